# config/deploy.rb of the Rails app that runs on the host
# examples/sidekiq/provision.yaml sets up. Capistrano logs in over SSH as
# deploy, deploys to /data/apps/outmuscleme, and drives the Sidekiq worker
# with the only two commands the drop-in /etc/sudoers.d/sidekiq-users
# allows the deploy group:
#
#   %deploy ALL= NOPASSWD: /bin/systemctl restart sidekiq
#   %deploy ALL= NOPASSWD: /bin/systemctl kill -s TSTP sidekiq
#
# sudo compares the arguments word for word: the commands below must stay
# exactly these. "restart sidekiq.service", "kill --signal=TSTP" or
# "kill -s SIGTSTP" are other commands, which sudo refuses; "sudo -n" makes
# a refusal fail at once instead of waiting for a password.
#
# The stage file names the server, for instance config/deploy/production.rb:
#
#   server "app.example.com", user: "deploy", roles: %w[app db web worker]

lock "~> 3.17"

set :application, "outmuscleme"
set :repo_url, "git@example.com:outmuscleme/outmuscleme.git"
set :deploy_to, "/data/apps/outmuscleme"

# provision creates shared/.env (0600, deploy:deploy) and the unit reads it
# with EnvironmentFile=; the app sees it as .env in each release.
append :linked_files, ".env"

namespace :sidekiq do
  desc "Quiet Sidekiq: it stops fetching jobs and finishes those it runs (TSTP)"
  task :quiet do
    on roles(:worker) do
      # Before the first deploy Sidekiq has never run (provision leaves it
      # stopped until the app is there): nothing to quiet.
      if test(:systemctl, "is-active", "--quiet", "sidekiq")
        execute :sudo, "-n", "/bin/systemctl", "kill", "-s", "TSTP", "sidekiq"
      end
    end
  end

  desc "Restart Sidekiq on the release just published (starts it the first time)"
  task :restart do
    on roles(:worker) do
      execute :sudo, "-n", "/bin/systemctl", "restart", "sidekiq"
    end
  end
end

# Quiet as the deploy starts, so no job starts on code about to go; restart
# once current points at the new release. A deploy that fails after the
# quiet would leave Sidekiq quiet for good, fetching nothing: restart it
# then too, on the release current still points at.
after "deploy:starting", "sidekiq:quiet"
after "deploy:published", "sidekiq:restart"
after "deploy:failed", "sidekiq:restart"
