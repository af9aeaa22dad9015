// Package crash holds the crash points that let the end-to-end tests kill
// provision between any two changes it makes to a host, to show that every
// such state is safe and that the next run repairs it.
//
// A crash point sits at every boundary between two changes: after each
// stage of an atomic write, after mkdir and chown/chmod, after a removal,
// and before and after every helper command (useradd, visudo, ...).
//
// Crash points exist only in a binary built with the build tag
// "crashpoints", as the end-to-end tests build provision. In any other
// build Enabled is false, Point does nothing and the binary holds no trace
// of them: no environment variable is read.
package crash
