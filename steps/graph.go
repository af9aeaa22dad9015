package steps

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Graph is the steps of a run, in the order they run, and the edges
// between them:
//
//   - a need (Add's needs, Need): the step runs only when the steps it
//     needs succeeded; when one failed or was skipped, it is skipped.
//   - a notification (Notify): when the first step changed something (or,
//     when checking, would change something), the second is handed an
//     Event saying so. It is the only way a step learns what another did:
//     "unit file changed -> reload", "reload for this unit -> restart".
//
// Every edge goes from a step to one added before it: the order of Add is
// an order in which every step's needs and notifiers have run. Run checks
// this before it runs anything.
type Graph struct {
	nodes []*node
	index map[Step]int
	// errs are edges that could not be made (a step unknown to the graph).
	errs []error
}

type node struct {
	step Step
	// needs and notifiedBy are earlier steps (see check).
	needs      []Step
	notifiedBy []Step
}

// Add appends s to the graph, needing needs (nil entries are ignored),
// and returns s.
func (g *Graph) Add(s Step, needs ...Step) Step {
	if g.index == nil {
		g.index = map[Step]int{}
	}
	if _, dup := g.index[s]; dup {
		g.errs = append(g.errs, fmt.Errorf("step %s is added twice", s.ID()))
		return s
	}
	g.index[s] = len(g.nodes)
	g.nodes = append(g.nodes, &node{step: s})
	g.Need(s, needs...)
	return s
}

// Need makes s need each of on (nil entries are ignored).
func (g *Graph) Need(s Step, on ...Step) {
	n := g.node(s)
	if n == nil {
		return
	}
	for _, o := range on {
		if o != nil && !slices.Contains(n.needs, o) {
			n.needs = append(n.needs, o)
		}
	}
}

// Notify makes from notify to: to is handed an Event when from changed
// something. A notification orders to after from but is not a need: to
// runs even when from failed.
func (g *Graph) Notify(from, to Step) {
	if n := g.node(to); n != nil && from != nil && !slices.Contains(n.notifiedBy, from) {
		n.notifiedBy = append(n.notifiedBy, from)
	}
}

func (g *Graph) node(s Step) *node {
	i, ok := g.index[s]
	if !ok {
		g.errs = append(g.errs, fmt.Errorf("step %s is not in the graph", s.ID()))
		return nil
	}
	return g.nodes[i]
}

// Steps returns the steps in the order they run.
func (g *Graph) Steps() []Step {
	out := make([]Step, len(g.nodes))
	for i, n := range g.nodes {
		out[i] = n.step
	}
	return out
}

// Len is the number of steps.
func (g *Graph) Len() int { return len(g.nodes) }

// ErrBadGraph is wrapped by Run's error for a graph it will not run.
var ErrBadGraph = errors.New("invalid step graph")

// check returns an error wrapping ErrBadGraph for a graph that has an
// edge to a step it does not hold or to a later step, or two steps of the
// same ID.
func (g *Graph) check() error {
	var problems []string
	for _, err := range g.errs {
		problems = append(problems, err.Error())
	}
	ids := map[string]bool{}
	for i, n := range g.nodes {
		id := n.step.ID()
		if ids[id] {
			problems = append(problems, fmt.Sprintf("two steps are named %s", id))
		}
		ids[id] = true
		for _, edge := range []struct {
			what string
			to   []Step
		}{{"needs", n.needs}, {"is notified by", n.notifiedBy}} {
			for _, o := range edge.to {
				j, ok := g.index[o]
				switch {
				case !ok:
					problems = append(problems, fmt.Sprintf("%s %s %s, which is not in the graph", id, edge.what, o.ID()))
				case j >= i:
					problems = append(problems, fmt.Sprintf("%s %s %s, which runs after it", id, edge.what, o.ID()))
				}
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrBadGraph, strings.Join(problems, "; "))
	}
	return nil
}
