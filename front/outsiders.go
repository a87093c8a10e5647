package front

import (
	"io"
	"net/http"
	"time"

	"github.com/ferryhq/ferry"
)

// OutsiderLimits bound what people without an account may do to file
// requests ([requests] in the configuration): deliveries started an hour
// and bytes put a day, from one client address and into one request.
type OutsiderLimits struct {
	AddressDeliveriesPerHour, RequestDeliveriesPerHour int
	AddressBytesPerDay, RequestBytesPerDay             int64
}

// DefaultOutsiderLimits are the configuration's defaults.
var DefaultOutsiderLimits = OutsiderLimits{
	AddressDeliveriesPerHour: 20, RequestDeliveriesPerHour: 200,
	AddressBytesPerDay: 20 << 30, RequestBytesPerDay: 100 << 30,
}

// Outsiders applies OutsiderLimits, in memory: a restart forgets them.
type Outsiders struct {
	guard                 *Guard
	addrStarts, reqStarts *budget
	addrBytes, reqBytes   *budget
}

// NewOutsiders makes the limits; guard tells each request's client
// address.
func NewOutsiders(guard *Guard, l OutsiderLimits) *Outsiders {
	return &Outsiders{
		guard:      guard,
		addrStarts: newBudget(l.AddressDeliveriesPerHour, time.Hour),
		reqStarts:  newBudget(l.RequestDeliveriesPerHour, time.Hour),
		addrBytes:  newBudget(l.AddressBytesPerDay, 24*time.Hour),
		reqBytes:   newBudget(l.RequestBytesPerDay, 24*time.Hour),
	}
}

// Start runs start, which begins a delivery to request (its token), if
// the client's address and the request may begin one more this hour;
// one that succeeds counts. Past a limit: TOO_MANY_REQUESTS, with
// Retry-After set on w.
func (o *Outsiders) Start(w http.ResponseWriter, r *http.Request, request string, start func() error) error {
	addr, now := o.guard.ClientIP(r), o.guard.Now()
	if wait := max(o.addrStarts.wait(addr, 1, now), o.reqStarts.wait(request, 1, now)); wait > 0 {
		SetRetryAfter(w, wait)
		return ferry.Errorf(ferry.ETOOMANYREQUESTS, "Too many uploads were started here in the last hour; try again later.")
	}
	if err := start(); err != nil {
		return err
	}
	o.addrStarts.take(addr, 1, now)
	o.reqStarts.take(request, 1, now)
	return nil
}

// Body is body, of request r, counted as it is read against the bytes the
// client's address and request may put today: reading past either fails
// with TOO_MANY_REQUESTS, with Retry-After set on w.
func (o *Outsiders) Body(w http.ResponseWriter, r *http.Request, request string, body io.Reader) io.Reader {
	return &countedBody{o: o, w: w, r: body, addr: o.guard.ClientIP(r), request: request}
}

type countedBody struct {
	o             *Outsiders
	w             http.ResponseWriter
	r             io.Reader
	addr, request string
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		now := b.o.guard.Now()
		if wait := max(b.o.addrBytes.wait(b.addr, n, now), b.o.reqBytes.wait(b.request, n, now)); wait > 0 {
			SetRetryAfter(b.w, wait)
			return 0, ferry.Errorf(ferry.ETOOMANYREQUESTS, "As much as may be uploaded here in a day has been; try again tomorrow.")
		}
		b.o.addrBytes.take(b.addr, n, now)
		b.o.reqBytes.take(b.request, n, now)
	}
	return n, err
}
