// Package kafkaerr joins a Kafka error code a broker answered with the
// free-text error message it may send beside it, for the client-side tools
// (the CLI, the console, groupinfo) that show both.
package kafkaerr

import (
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Error is a Kafka error code with the broker's message. Error prints
// "NAME: message"; Unwrap keeps errors.Is working against kerr values.
type Error struct {
	Code *kerr.Error
	Msg  string
}

func (e *Error) Error() string { return e.Code.Message + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Code }

// WithMessage attaches msg to err when err is a Kafka error and msg adds
// something to the code's own description; otherwise it returns err
// unchanged.
func WithMessage(err error, msg string) error {
	msg = strings.TrimSpace(msg)
	var ke *kerr.Error
	if err == nil || msg == "" || !errors.As(err, &ke) || msg == ke.Description {
		return err
	}
	return &Error{Code: ke, Msg: msg}
}
