// Package prometheus holds the tests of ringex's Prometheus surface; it
// has no code of its own. They run a real node in-process (small rings,
// loopback ports, a temporary directory) with some trading on it, then:
//
//  1. every metric the node serves is documented in docs/metrics.md with
//     its type and labels, and every metric documented there is served;
//     each has HELP text saying what it counts (the unit, where the name
//     has none; what a histogram times, and how often it samples); every
//     label value the docs and deploy files select a series by is one the
//     node serves, and the table lists the disconnect causes as served
//     (order entry's spelt with '_', the market-data port's with '-');
//  2. every metric name and label the Grafana dashboard, the alert rules
//     and deploy/prometheus.yml use is served, and the dashboard shows
//     every served metric;
//  3. deploy/docker-compose.yml gives each node a valid config and
//     Prometheus scrapes exactly its nodes' admin ports;
//  4. a real Prometheus server (the Debian package's /usr/bin/prometheus;
//     skipped, saying so, where it is not installed) scrapes the node, loads
//     the alert rules without errors, answers every dashboard query, and
//     gives a sane end-to-end latency quantile through its HTTP API;
//  5. the alert rules' process_* names (restarts) are served, and
//     deploy/ringex.service stops restarting a node that fails at every
//     start but not one that fails now and then (systemd-analyze verifies
//     it where installed).
package prometheus
