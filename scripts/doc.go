// Package scripts holds no code: its directory has the shell scripts behind
// make demo, make demo-fleet, make fuzz and make test-deps, and its tests
// run demo-fleet.sh end to end, as a newcomer would.
package scripts
