//go:build !linux

package main

import "github.com/prometheus/client_golang/prometheus"

// newProcessCollector is client_golang's process collector where /proc
// does not exist.
func newProcessCollector() prometheus.Collector { return fallbackProcessCollector() }
