package server

import (
	"net/http"

	"github.com/ferryhq/ferry"
)

// batch collects the outcome of each item of a batch call (docs/api.md:
// ops/delete, inbox/update, ...). Some items are refused while parsing;
// the rest go to the store, whose per-item errors come back in the order
// they were passed.
type batch struct {
	codes  []string // per item of the request: "" for success
	passed []int    // the request index of each item passed on
}

func newBatch(n int) *batch {
	return &batch{codes: make([]string, n)}
}

// refuse records item i as failed with err's code.
func (b *batch) refuse(i int, err error) {
	b.codes[i] = ferry.ErrorCode(err)
}

// pass records that item i goes to the store as the next one.
func (b *batch) pass(i int) {
	b.passed = append(b.passed, i)
}

// results takes the store's errors for the items passed, in order.
func (b *batch) results(errs []error) {
	for j, err := range errs {
		b.codes[b.passed[j]] = ferry.ErrorCode(err)
	}
}

// answer writes 200 [] when every item succeeded, else 202 with one
// failure per failed item, in request order, as failure(i, code) makes it.
func answerBatch[T any](w http.ResponseWriter, b *batch, failure func(i int, code string) T) {
	failures := []T{}
	for i, code := range b.codes {
		if code != "" {
			failures = append(failures, failure(i, code))
		}
	}
	writeBatch(w, failures)
}
