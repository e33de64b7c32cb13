// Package examples holds no code: its directory has the example
// deployments of monero_exporter (docker-compose.yml with Prometheus,
// Alertmanager and Grafana, prometheus.yml, alertmanager.yml, a Kubernetes
// manifest), and its tests check them, and the repository's Dockerfile,
// with the real tools where they are installed.
package examples
