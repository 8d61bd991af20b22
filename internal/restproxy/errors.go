package restproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Confluent REST Proxy error codes (io.confluent.kafkarest.Errors). Codes
// without an entry here are the HTTP status itself, as Confluent's proxy
// sends for generic errors (400 malformed JSON, 413, 415, 422...).
const (
	codeTopicNotFound          = 40401
	codePartitionNotFound      = 40402
	codeInstanceNotFound       = 40403
	codeFormatMismatch         = 40601
	codeInstanceExists         = 40902
	codeIllegalState           = 40903
	codeInvalidConsumerConfig  = 42204
	codeTooManyInstances       = 42901
	codeKafkaError             = 50002
	codeKafkaRetriableError    = 50003
	codeKafkaAuthentication    = 40101
	codeKafkaAuthorization     = 40301
	codeClusterNotFound        = 404
	codeUnsupportedContentType = 415
)

// restError is an error answered as {"error_code": code, "message": msg}
// with HTTP status status.
type restError struct {
	status int
	code   int
	msg    string
}

func (e *restError) Error() string { return fmt.Sprintf("%d %d: %s", e.status, e.code, e.msg) }

func errorf(status, code int, format string, args ...any) *restError {
	return &restError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// badRequest is malformed input: unparsable JSON, a wrong type.
func badRequest(format string, args ...any) *restError {
	return errorf(http.StatusBadRequest, http.StatusBadRequest, format, args...)
}

// unprocessable is well-formed input that makes no sense: an empty record
// list, a negative partition, bad base64.
func unprocessable(format string, args ...any) *restError {
	return errorf(http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, format, args...)
}

func topicNotFound(topic string) *restError {
	return errorf(http.StatusNotFound, codeTopicNotFound, "Topic not found: %q", topic)
}

func partitionNotFound(topic string, p int32) *restError {
	return errorf(http.StatusNotFound, codePartitionNotFound, "Partition not found: %q partition %d", topic, p)
}

func instanceNotFound(group, name string) *restError {
	return errorf(http.StatusNotFound, codeInstanceNotFound, "Consumer instance not found: group %q instance %q", group, name)
}

func illegalState(format string, args ...any) *restError {
	return errorf(http.StatusConflict, codeIllegalState, "Illegal state: "+format, args...)
}

func invalidConsumerConfig(format string, args ...any) *restError {
	return errorf(http.StatusUnprocessableEntity, codeInvalidConsumerConfig, "Invalid consumer configuration: "+format, args...)
}

// errClosed is returned for requests arriving after the proxy closed.
var errClosed = errorf(http.StatusServiceUnavailable, http.StatusServiceUnavailable, "the REST proxy is shutting down")

// kafkaError turns an error from a Kafka call into the REST error Confluent's
// proxy gives for it. what says what was attempted ("list topics").
func kafkaError(what string, err error) *restError {
	var re *restError
	if errors.As(err, &re) {
		return re
	}
	status, code := kafkaErrorCode(err)
	return errorf(status, code, "Kafka error: %s: %v", what, err)
}

// kafkaErrorCode classifies err as Confluent's proxy does: authentication
// and authorization failures, retriable errors (timeouts, leader moves)
// and the rest.
func kafkaErrorCode(err error) (status, code int) {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke) && (ke == kerr.SaslAuthenticationFailed || ke == kerr.IllegalSaslState || ke == kerr.UnsupportedSaslMechanism):
		return http.StatusUnauthorized, codeKafkaAuthentication
	case errors.As(err, &ke) && (ke == kerr.TopicAuthorizationFailed || ke == kerr.GroupAuthorizationFailed ||
		ke == kerr.ClusterAuthorizationFailed || ke == kerr.TransactionalIDAuthorizationFailed):
		return http.StatusForbidden, codeKafkaAuthorization
	case errors.As(err, &ke) && ke == kerr.UnknownTopicOrPartition:
		return http.StatusNotFound, codeTopicNotFound
	case errors.As(err, &ke) && ke.Retriable,
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, errAckTimeout),
		errors.Is(err, kgo.ErrRecordTimeout),
		errors.Is(err, kgo.ErrRecordRetries):
		return http.StatusInternalServerError, codeKafkaRetriableError
	}
	return http.StatusInternalServerError, codeKafkaError
}
