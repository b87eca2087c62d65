#!/usr/bin/env bash
# Make sure the real PostgreSQL and RabbitMQ the tests need are up; start a stopped one with the
# command this machine kind documents. Exits non-zero (tests would fail, not skip) if they stay down.
set -uo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { for _ in $(seq 1 60); do up "$1" && return 0; sleep 1; done; return 1; }

if ! up 5432; then
  echo "PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if ! up 5672; then
  echo "RabbitMQ is down; starting it"
  rabbitmq-server -detached || true
fi
wait_for 5432 || { echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1; }
wait_for 5672 || { echo "RabbitMQ did not come up on 127.0.0.1:5672" >&2; exit 1; }
echo "PostgreSQL and RabbitMQ are up"
