package sasl

import (
	"fmt"
	"strings"
)

// JAAS is one login module entry of a Kafka sasl.jaas.config value:
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required
//	    username="admin" password="admin-secret" user_alice="alice-secret";
//
// On a broker, username and password are its own credentials for
// inter-broker connections, and PLAIN's user_NAME options are the users
// it accepts.
type JAAS struct {
	LoginModule string
	Flag        string
	Options     map[string]string
}

// Users returns the user_NAME="password" options.
func (j JAAS) Users() map[string]string {
	users := map[string]string{}
	for k, v := range j.Options {
		if name, ok := strings.CutPrefix(k, "user_"); ok && name != "" {
			users[name] = v
		}
	}
	return users
}

// ParseJAAS parses a sasl.jaas.config value holding one login module.
// Values are "quoted" (with \" and \\ escapes) or bare words.
func ParseJAAS(s string) (JAAS, error) {
	var j JAAS
	toks, err := jaasTokens(s)
	if err != nil {
		return j, err
	}
	if len(toks) < 3 || toks[len(toks)-1] != ";" {
		return j, fmt.Errorf("JAAS config: want LoginModule flag options... ;")
	}
	j.LoginModule, j.Flag = toks[0], toks[1]
	switch j.Flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return j, fmt.Errorf("JAAS config: invalid control flag %q", j.Flag)
	}
	j.Options = map[string]string{}
	rest := toks[2 : len(toks)-1]
	for i := 0; i < len(rest); i += 3 {
		if i+2 >= len(rest) || rest[i+1] != "=" {
			return j, fmt.Errorf("JAAS config: want key=value options")
		}
		j.Options[rest[i]] = rest[i+2]
	}
	return j, nil
}

func jaasTokens(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '=' || c == ';':
			toks = append(toks, string(c))
			i++
		case c == '"':
			var b strings.Builder
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("JAAS config: unterminated quoted value")
			}
			i++
			toks = append(toks, b.String())
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r=;\"", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}
