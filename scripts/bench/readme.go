package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Markers of the generated part of a document.
const (
	beginMarker = "<!-- make bench: begin (generated from docs/bench/latest.txt) -->"
	endMarker   = "<!-- make bench: end -->"
)

// section is the generated Markdown for the output of a run: when and under what load it
// ran, the table, and the noise margin.
func section(out string) string {
	var when, before, after string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "# make bench, "):
			when = strings.TrimPrefix(line, "# make bench, ")
		case strings.HasPrefix(line, "# load average before: "):
			before = strings.TrimPrefix(line, "# load average before: ")
		case strings.HasPrefix(line, "# load average after: "):
			after = strings.TrimPrefix(line, "# load average after: ")
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "`make bench` of %s; load average (1, 5, 15 min) %s before, %s after. Each figure is the median of the rounds; a goal missed by more than the %.0f %% noise margin fails the run.\n\n",
		when, before, after, 100*NoiseMargin)
	b.WriteString(render(evaluate(parse(out))))
	return b.String()
}

// between returns the text of doc between the markers.
func between(doc string) (string, error) {
	_, rest, ok := strings.Cut(doc, beginMarker+"\n")
	if !ok {
		return "", errors.New("no " + beginMarker)
	}
	inner, _, ok := strings.Cut(rest, endMarker)
	if !ok {
		return "", errors.New("no " + endMarker)
	}
	return inner, nil
}

// updateReadme replaces the README's generated section with out's.
func updateReadme(out string) error {
	const path = readmeFile
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(b)
	old, err := between(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	doc = strings.Replace(doc, beginMarker+"\n"+old+endMarker, beginMarker+"\n"+section(out)+endMarker, 1)
	return os.WriteFile(path, []byte(doc), 0o644) //nolint:gosec // a committed text file
}
