package front_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
)

// Every error a front end answers: its status, its code, and a message that
// tells the client what happened without telling it ferry's insides.
func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{ferry.Errorf(ferry.EFILENOTFOUND, "No such file."), http.StatusNotFound, ferry.EFILENOTFOUND},
		{ferry.Errorf(ferry.EALREADYCONTACT, "A contact already."), http.StatusAccepted, ferry.EALREADYCONTACT},
		{fmt.Errorf("write: %w", syscall.ENOSPC), http.StatusInsufficientStorage, ferry.ESTORAGEFULL},
		{fmt.Errorf("%w: unexpected EOF", ferry.ErrBodyRead), http.StatusBadRequest, ferry.EBADREQUEST},
		{errors.New("the database said no"), http.StatusInternalServerError, ferry.EUNKNOWN},
	} {
		w := httptest.NewRecorder()
		front.WriteError(w, httptest.NewRequest(http.MethodGet, "/x", nil), slog.New(slog.DiscardHandler), "/x", c.err)
		require.Equal(t, c.status, w.Code, "%v", c.err)
		var body front.ErrorBody
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
		assert.Equal(t, c.code, body.Error)
		assert.NotContains(t, body.Message, "database", "no insides")
		status, _ := front.Explain(c.err)
		assert.Equal(t, c.status, status, "Explain says as WriteError does: %v", c.err)
	}

	// A client that went away: its answer is not an error of the request.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	front.WriteError(w, httptest.NewRequest(http.MethodGet, "/x", nil).WithContext(ctx), slog.New(slog.DiscardHandler), "/x", context.Canceled)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
}
