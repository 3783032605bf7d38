// Package textable owns the plain column tables the zk tools print for
// humans (`zk status`, `zk ensemble status`, `ls -l`, the benchmark
// comparison): a header line and one line per row, no borders and no
// rules, every cell left aligned, two spaces after each column, header
// text printed as given, and the trailing spaces of every line removed.
//
// It wraps github.com/olekukonko/tablewriter so that its configuration is
// written once; callers hand over strings and add their own lines (errors,
// summaries) after the table.
package textable
