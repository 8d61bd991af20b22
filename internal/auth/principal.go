// Package auth holds who a connection is: its principal, as Kafka names
// principals (KafkaPrincipal: a type and a name, "User:alice"). The
// connection layer (TLS certificate mapping, SASL) sets it; authorization
// and quotas read it. The package has no state and runs nothing.
package auth

// Principal is Kafka's KafkaPrincipal: Type is "User" for every principal
// Kafka's built-in builders produce (also for TLS subjects and SASL
// names); Name is the user or mapped certificate name.
type Principal struct {
	Type string
	Name string
}

// Anonymous is the principal of a PLAINTEXT connection, and of an SSL
// connection without a client certificate (Kafka's User:ANONYMOUS).
var Anonymous = Principal{Type: "User", Name: "ANONYMOUS"}

// User returns the principal User:name.
func User(name string) Principal { return Principal{Type: "User", Name: name} }

// String formats p as Kafka does: "User:alice".
func (p Principal) String() string { return p.Type + ":" + p.Name }
