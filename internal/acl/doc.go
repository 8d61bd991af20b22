// Package acl is Strata's ACL authorizer, with the semantics of Kafka's
// StandardAuthorizer and AclAuthorizer (KIP-11, KIP-290 prefixed
// patterns, KIP-430 authorized operations, KIP-679 authorization by
// resource type).
//
// It owns the ACL vocabulary (resource, pattern and operation types with
// Kafka's wire codes, Binding and Filter with Kafka's matching rules) and
// the decision: Authorizer, an immutable index of bindings by resource type
// and name (literal names in a map, prefixes by their distinct lengths), so
// a decision costs a few map lookups whatever the number of ACLs.
//
// It leaves to others where ACLs live (the metadata log: package metadata
// records them, the controller validates and writes them) and which
// operation each Kafka API needs (package kafkaapi). It has no state beyond
// an Authorizer value and runs no goroutines.
package acl
