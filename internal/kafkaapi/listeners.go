package kafkaapi

import (
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
)

// Brokers are described to a client by their endpoint on the listener the
// client connected on, as Kafka does: a client of the SSL listener is sent
// to other brokers' SSL endpoints, never to their PLAINTEXT ones.

// brokerEndpoint is a broker as a client of one listener sees it.
type brokerEndpoint struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   string
}

// listenerOf is the listener a connection came in on ("" for connections
// built without one, in tests: the broker's first listener).
func listenerOf(c *server.Conn) string {
	if c == nil {
		return ""
	}
	return c.Listener
}

// clientEndpoint returns broker b's endpoint on listener; ok is false when
// b has no such listener.
func clientEndpoint(b metadata.BrokerInfo, listener string) (brokerEndpoint, bool) {
	e, ok := b.Endpoint(listener)
	if !ok {
		return brokerEndpoint{}, false
	}
	return brokerEndpoint{NodeID: b.NodeID, Host: e.Host, Port: e.Port, Rack: b.Rack}, true
}
