package monerod

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
)

// Sentinel errors that callers branch on. Every error a Client returns wraps
// exactly one of them (test with errors.Is), beside the underlying cause.
var (
	// ErrUnreachable: no answer could be had (connection refused, reset or
	// closed without a response, unknown host).
	ErrUnreachable = errors.New("monerod unreachable")
	// ErrTimeout: the deadline passed before monerod answered.
	ErrTimeout = errors.New("timed out waiting for monerod")
	// ErrTLS: the TLS handshake failed, for example an unverifiable certificate.
	ErrTLS = errors.New("TLS handshake with monerod failed")
	// ErrUnauthorized: monerod answered 401 (missing or wrong credentials).
	ErrUnauthorized = errors.New("monerod refused the credentials (HTTP 401)")
	// ErrMethodNotAvailable: the node does not offer the call, as a restricted
	// node answers (JSON-RPC -32601, or HTTP 404 for the other endpoints).
	ErrMethodNotAvailable = errors.New("method not available on this node")
	// ErrResponseTooLarge: the body passed the configured size limit.
	ErrResponseTooLarge = errors.New("response larger than the size limit")
	// ErrBadResponse: an answer that could not be understood (bad JSON, an
	// unexpected HTTP status, a JSON-RPC error, a status other than OK).
	ErrBadResponse = errors.New("bad response from monerod")
)

// RPCError is a JSON-RPC error object returned by monerod.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, e.Message)
}

// HTTPStatusError is an HTTP status other than 200 (and 401, which is
// ErrUnauthorized), for callers that show the code (the old health API
// repeats it).
type HTTPStatusError struct {
	StatusCode int
}

func (e *HTTPStatusError) Error() string { return fmt.Sprintf("HTTP %d", e.StatusCode) }

// Outcome names the class of err in a few fixed words, for metric labels and
// logs: success, unreachable, timeout, tls_error, unauthorized,
// method_not_available, too_large or bad_response.
func Outcome(err error) string {
	switch {
	case err == nil:
		return "success"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrMethodNotAvailable):
		return "method_not_available"
	case errors.Is(err, ErrResponseTooLarge):
		return "too_large"
	case errors.Is(err, ErrTLS):
		return "tls_error"
	case errors.Is(err, ErrUnreachable):
		return "unreachable"
	default:
		return "bad_response"
	}
}

// classifyTransportError maps what net/http returned to one of the sentinel
// errors, keeping the cause for the message.
func classifyTransportError(ctx context.Context, err error) error {
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", ErrTimeout, context.Cause(ctx))
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &recordErr):
		return fmt.Errorf("%w: %w", ErrTLS, err)
	default:
		// Unknown host, no route, a closed connection: no answer to be had.
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
}
