package auth

import "testing"

func TestSSLPrincipalMapping(t *testing.T) {
	tests := []struct {
		rules string
		give  string
		want  string
	}{
		{"", "CN=alice,OU=eng,O=Acme", "CN=alice,OU=eng,O=Acme"},
		{"DEFAULT", "CN=alice,OU=eng", "CN=alice,OU=eng"},
		{`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT`, "CN=kafka1,OU=ServiceUsers,O=Acme", "kafka1"},
		{`RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT`, "CN=alice,OU=eng,O=Acme", "CN=alice,OU=eng,O=Acme"},
		{`RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1@$2/L`, "CN=Alice,OU=ENG,O=Acme", "alice@eng"},
		{`RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U`, "OU=x,CN=bob.smith,O=y", "BOB.SMITH"},
		{` RULE:^CN=([^,]*)(,.*)?$/user-$1/ , DEFAULT `, "CN=svc", "user-svc"},
		{`RULE:^CN=(.*)$/$1\/x/`, "CN=a", "a/x"},
		{`RULE:^CN=(.*)$/$12/`, "CN=a", "a2"},            // $12 with one group: group 1, then "2"
		{`RULE:^CN=.*$/literal$1/`, "CN=a", "literal$1"}, // no groups: literal
	}
	for _, tt := range tests {
		m, err := ParseSSLPrincipalMappingRules(tt.rules)
		if err != nil {
			t.Fatalf("ParseSSLPrincipalMappingRules(%q) error: %v", tt.rules, err)
		}
		got, err := m.Name(tt.give)
		if err != nil || got != tt.want {
			t.Errorf("rules %q: Name(%q) = %q, %v, want %q", tt.rules, tt.give, got, err, tt.want)
		}
	}
}

func TestSSLPrincipalMappingNoMatch(t *testing.T) {
	m, err := ParseSSLPrincipalMappingRules(`RULE:^CN=(.*),OU=svc$/$1/`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Name("CN=a,OU=eng"); err == nil {
		t.Errorf("Name(CN=a,OU=eng) = %q, want ErrNoMatchingRule", got)
	}
}

func TestSSLPrincipalMappingBadRules(t *testing.T) {
	for _, give := range []string{
		"RULE:^CN=(.*)$",
		"RULE:^CN=(.*)$/$1",
		"RULE:^CN=(.*)$/$1/X",
		"NOPE",
		"RULE:^CN=((.*)$/$1/",
		"DEFAULT DEFAULT",
	} {
		if _, err := ParseSSLPrincipalMappingRules(give); err == nil {
			t.Errorf("ParseSSLPrincipalMappingRules(%q) succeeded, want an error", give)
		}
	}
}

func FuzzSSLPrincipalMapping(f *testing.F) {
	f.Add(`RULE:^CN=(.*?),OU=(.*?)$/$1@$2/L,DEFAULT`, "CN=a,OU=b")
	f.Add(`RULE:\/(.*)/$1\\/U`, "x")
	f.Fuzz(func(t *testing.T, rules, dn string) {
		m, err := ParseSSLPrincipalMappingRules(rules)
		if err != nil {
			return
		}
		m.Name(dn) // must not panic
	})
}
