// Package doclinks holds only a test: that every relative link in README.md
// and the pages under docs/ leads to a file of the repository, and every
// #anchor to a heading of its page, as GitHub renders them; and that the
// alerts' runbook URLs lead to headings of docs/runbooks.md.
package doclinks
