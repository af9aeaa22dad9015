# The demo's Sidekiq app: one job, which logs what it was given and which
# worker process ran it. Sidekiq loads it with
#
#   /usr/bin/sidekiq -r /srv/sidekiq-demo/app.rb
#
# and `ruby app.rb MESSAGE...` enqueues one job. Both reach Redis at
# redis://localhost:6379 (REDIS_URL overrides it).
require "sidekiq"

# Debian 12's redis gem (4.8) warns about a change of Redis#sadd in 5.0 on
# every client push; Sidekiq 6.4 does not use the value.
Redis.sadd_returns_boolean = false if Redis.respond_to?(:sadd_returns_boolean=)

class HelloJob
  include Sidekiq::Job

  def perform(message)
    logger.info "HelloJob #{message.inspect} done by pid #{Process.pid}"
  end
end

if $PROGRAM_NAME == __FILE__
  jid = HelloJob.perform_async(ARGV.join(" "))
  puts "enqueued HelloJob #{jid}"
end
