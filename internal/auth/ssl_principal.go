package auth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// SSLPrincipalMapper turns the subject of a client certificate (a
// distinguished name in RFC 2253 form, "CN=alice,OU=eng,O=Acme") into a
// principal name with Kafka's ssl.principal.mapping.rules: a comma
// separated list of rules tried in order, each either
//
//	DEFAULT                          the whole DN
//	RULE:pattern/replacement/[L|U]   if pattern matches the whole DN, the
//	                                 replacement with $1, $2... set from
//	                                 its groups, optionally lower- or
//	                                 upper-cased
//
// Inside pattern and replacement a backslash escapes the next character
// (so "\/" is a slash and "\," a comma). A DN no rule matches has no
// principal: the connection is refused, as in Kafka. Patterns are Go (RE2)
// regular expressions, which agree with Java's for the usual rules
// (lookarounds and backreferences inside the pattern are not available).
// An empty rule list is DEFAULT. The mapper is immutable.
type SSLPrincipalMapper struct {
	rules []sslRule
}

type sslRule struct {
	isDefault   bool
	re          *regexp.Regexp // anchored: the pattern must match the whole DN
	replacement string
	lower       bool
	upper       bool
}

// ErrNoMatchingRule means no ssl.principal.mapping.rules rule matched a
// certificate's subject.
var ErrNoMatchingRule = errors.New("no ssl.principal.mapping.rules rule matches the certificate subject")

// ParseSSLPrincipalMappingRules parses ssl.principal.mapping.rules.
func ParseSSLPrincipalMappingRules(rules string) (*SSLPrincipalMapper, error) {
	m := &SSLPrincipalMapper{}
	s := strings.TrimSpace(rules)
	if s == "" {
		s = "DEFAULT"
	}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t")
		var r sslRule
		switch {
		case strings.HasPrefix(s, "DEFAULT"):
			r.isDefault = true
			s = s[len("DEFAULT"):]
		case strings.HasPrefix(s, "RULE:"):
			s = s[len("RULE:"):]
			pattern, rest, ok := cutUnescaped(s, '/')
			if !ok {
				return nil, fmt.Errorf("ssl.principal.mapping.rules: rule %q has no /replacement/", "RULE:"+s)
			}
			replacement, rest, ok := cutUnescaped(rest, '/')
			if !ok {
				return nil, fmt.Errorf("ssl.principal.mapping.rules: rule %q does not end in /, /L or /U", "RULE:"+s)
			}
			re, err := regexp.Compile(`^(?:` + pattern + `)$`)
			if err != nil {
				return nil, fmt.Errorf("ssl.principal.mapping.rules: pattern %q: %v", pattern, err)
			}
			r.re, r.replacement = re, replacement
			if len(rest) > 0 && (rest[0] == 'L' || rest[0] == 'U') {
				r.lower, r.upper = rest[0] == 'L', rest[0] == 'U'
				rest = rest[1:]
			}
			s = rest
		default:
			return nil, fmt.Errorf("ssl.principal.mapping.rules: %q is neither DEFAULT nor RULE:pattern/replacement/", s)
		}
		s = strings.TrimLeft(s, " \t")
		if s != "" {
			if s[0] != ',' {
				return nil, fmt.Errorf("ssl.principal.mapping.rules: unexpected %q after a rule", s)
			}
			s = s[1:]
		}
		m.rules = append(m.rules, r)
	}
	return m, nil
}

// cutUnescaped splits s at the first sep not preceded by a backslash and
// removes the escaping backslashes before sep characters; other escapes
// are kept for the regular expression or replacement to interpret.
func cutUnescaped(s string, sep byte) (before, after string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			if s[i+1] != sep {
				b.WriteByte('\\')
			}
			b.WriteByte(s[i+1])
			i++
		case s[i] == sep:
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", false
}

// Name maps a certificate subject DN to a principal name.
func (m *SSLPrincipalMapper) Name(dn string) (string, error) {
	for _, r := range m.rules {
		if r.isDefault {
			return dn, nil
		}
		groups := r.re.FindStringSubmatch(dn)
		if groups == nil {
			continue
		}
		name := expandReplacement(r.replacement, groups)
		switch {
		case r.lower:
			name = strings.ToLower(name)
		case r.upper:
			name = strings.ToUpper(name)
		}
		return name, nil
	}
	return "", fmt.Errorf("%w: %q", ErrNoMatchingRule, dn)
}

// expandReplacement substitutes $n with group n as Java's replaceAll
// does: a number larger than the group count loses trailing digits until
// it names a group (so $12 with one group is group 1 then "2"), and one
// naming no group at all stays literal; a backslash quotes the next
// character.
func expandReplacement(repl string, groups []string) string {
	var b strings.Builder
	n := len(groups) - 1
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\' && i+1 < len(repl):
			b.WriteByte(repl[i+1])
			i++
		case c == '$' && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9':
			j := i + 1
			ref := int(repl[j] - '0')
			j++
			for j < len(repl) && repl[j] >= '0' && repl[j] <= '9' && ref*10+int(repl[j]-'0') <= n {
				ref = ref*10 + int(repl[j]-'0')
				j++
			}
			if ref > n {
				b.WriteByte('$') // no such group: literal, as Kafka escapes it
				continue
			}
			b.WriteString(groups[ref])
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
