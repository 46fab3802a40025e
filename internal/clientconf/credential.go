package clientconf

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// Credentials are found by name (an env variable, a flag, a JSON member
// or a key=value pair named like one) and by form (a URL with a password,
// a webhook URL of a well-known service, a token with a well-known
// prefix, an Authorization header, a private key), anywhere in a string.

var (
	// Long words count anywhere in a name (PGPASSWORD); short ones only
	// as a whole word (so not KEYBOARD). Names split at _ - . and at
	// camelCase humps (apiKey).
	credentialParts = []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "APIKEY", "PRIVATE", "COOKIE", "BEARER"}
	credentialWords = []string{"KEY", "PAT", "PASS", "AUTH", "PWD", "AUTHORIZATION", "SIG", "SIGNATURE"}
	// A flag or key named like a credential whose last word is one of
	// these names where a credential is, not the credential (--token-file).
	locationWords = []string{"FILE", "PATH", "DIR", "FOLDER", "ENV", "VAR", "NAME", "ID", "URL", "FD", "CMD", "COMMAND", "HELPER", "TYPE", "LENGTH", "SIZE"}

	tokenPrefixes = `ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|gldt-|glrt-|glptt-|sk-|sk_live_|sk_test_|rk_live_|rk_test_|whsec_|xox[abeoprs]-|xapp-|AIza|ya29\.|npm_|pypi-|hf_|r8_|gsk_|pplx-|xai-|tvly-|shpat_|shpss_|shpca_|shppa_|lin_api_|ntn_|secret_|dop_v1_|doo_v1_|dp\.pt\.|dp\.st\.|glsa_|glc_|PMAK-|figd_|sntrys_|sntryu_|lsv2_|ATATT|dapi|phx_|sq0atp-|sq0csp-|AGE-SECRET-KEY-`
	// A value that starts with a token prefix and 8 characters more.
	tokenStart = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:` + tokenPrefixes + `)[A-Za-z0-9_\-.+/=]{8,}|^(?:AKIA|ASIA)[A-Z0-9]{8,}|^eyJ[A-Za-z0-9_-]+\.`)
	})
	// One inside a longer string: after a boundary, and long.
	tokenInside = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?:^|[^A-Za-z0-9_])((?:` + tokenPrefixes + `)[A-Za-z0-9_\-.+/=]{16,}|(?:AKIA|ASIA)[A-Z0-9]{16}|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})`)
	})
	// scheme://userinfo@: the userinfo ends at the last @ before the path.
	urlUserinfo = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*)://([^\s/?#]*)@`)
	})
	// user:password@host without a scheme (Go's MySQL DSN, user:pw@tcp(…)).
	bareUserinfo = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?:^|[\s"'=])[A-Za-z0-9_.%+-]+:([^\s/@:"']+)@([A-Za-z0-9_.-]+|\[)`)
	})
	// A name and what separates it from its value: NAME=V, NAME: V,
	// "NAME": "V", --NAME=V.
	namedValue = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?:^|[^A-Za-z0-9_.-])-{0,2}["']?([A-Za-z][A-Za-z0-9_.-]*)["']? ?([=:])`)
	})
	scheme = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^ ?["']?((?i:bearer|basic|token) )?`) })
	bearer = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)(?:^|[^A-Za-z])(?:bearer|basic) ([A-Za-z0-9._~+/=-]{8,})`)
	})
	privateKey = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|$)`)
	})
	// Webhook URLs whose path is the secret: well-known services, and any
	// host's /hooks/…, /webhook/… with a long id.
	webhook = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)https?://(?:hooks\.slack\.com|(?:[a-z0-9-]+\.)?discord(?:app)?\.com/api/webhooks|[a-z0-9-]+\.webhook\.office\.com|outlook\.office(?:365)?\.com/webhook|hooks\.zapier\.com|maker\.ifttt\.com|events\.pagerduty\.com/integration|api\.telegram\.org|open\.feishu\.cn/open-apis/bot|open\.larksuite\.com/open-apis/bot|qyapi\.weixin\.qq\.com/cgi-bin/webhook|[^\s/?#]+(?:/[^\s/?#]*)*?/(?:hooks|webhooks?|webhookb2)/[^\s/?#]{16,})(/?[^\s#]*)`)
	})
	lowerWord = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]+$`) })
	reference = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{[^}]+\}`) })
)

// nameWords splits a name into upper-case words at _ - . space and
// camelCase humps: "apiKey" is API KEY, "GITHUB_PAT" is GITHUB PAT.
func nameWords(name string) []string {
	var words []string
	var cur []rune
	prev := rune(0)
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			words, cur = appendWord(words, cur), nil
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			words, cur = appendWord(words, cur), []rune{r}
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	return appendWord(words, cur)
}

func appendWord(words []string, w []rune) []string {
	if len(w) == 0 {
		return words
	}
	return append(words, strings.ToUpper(string(w)))
}

// credentialName reports whether a name (of an env variable, a JSON
// member, a flag, a query parameter) says its value is a credential.
func credentialName(name string) bool {
	upper := strings.ToUpper(name)
	for _, p := range credentialParts {
		if strings.Contains(upper, p) {
			return true
		}
	}
	for _, w := range nameWords(name) {
		if slices.Contains(credentialWords, w) {
			return true
		}
	}
	return false
}

// credentialFlag is credentialName for a flag or a key inside a string:
// one whose last word names where a credential is (--token-file) is not.
func credentialFlag(name string) bool {
	words := nameWords(name)
	return credentialName(name) && len(words) > 0 && !slices.Contains(locationWords, words[len(words)-1])
}

// isCredential reports whether an env entry holds a credential, by its
// name or by the form of its value.
func isCredential(name, value string) bool {
	return credentialName(name) || len(secretSpans(value)) > 0
}

// blankRefs is s with every ${…} replaced by as many NUL bytes: a
// reference is no credential, the text around it still reads as one
// string, and the offsets stay those of s.
func blankRefs(s string) string {
	return reference().ReplaceAllStringFunc(s, func(r string) string { return strings.Repeat("\x00", len(r)) })
}

// secretSpans finds the credentials in s by their form and returns where
// each secret part is (the password of a URL, the token of a header, the
// whole of a token); nil when there is none. References ${…} are not
// credentials.
func secretSpans(s string) []span {
	b := blankRefs(s)
	var out []span
	add := func(start, end int) {
		if start < 0 || end <= start || strings.Trim(b[start:end], " \t\x00") == "" {
			return
		}
		out = append(out, span{start, end})
	}
	if loc := tokenStart().FindStringIndex(b); loc != nil {
		add(loc[0], tokenEnd(b, loc[1]))
	}
	for _, m := range tokenInside().FindAllStringSubmatchIndex(b, -1) {
		add(m[2], m[3])
	}
	hasURL := strings.Contains(b, "://")
	for _, m := range when(hasURL && strings.Contains(b, "@"), urlUserinfo).FindAllStringSubmatchIndex(b, -1) {
		scheme, info := strings.ToLower(b[m[2]:m[3]]), b[m[4]:m[5]]
		if user, _, ok := strings.Cut(info, ":"); ok {
			add(m[4]+len(user)+1, m[5])
		} else if web := scheme == "http" || scheme == "https" || scheme == "ws" || scheme == "wss"; web && (len(info) >= 16 || tokenStart().MatchString(info)) {
			// A token as the user name: https://TOKEN@host, a Sentry DSN.
			add(m[4], m[5])
		}
	}
	for _, m := range when(strings.Contains(b, "@"), bareUserinfo).FindAllStringSubmatchIndex(b, -1) {
		if rest := strings.ToLower(b[m[4]:]); strings.HasPrefix(rest, "sha256:") || strings.HasPrefix(rest, "sha512:") {
			continue // an image reference: name:tag@sha256:digest
		}
		add(m[2], m[3])
	}
	for _, m := range when(hasURL, webhook).FindAllStringSubmatchIndex(b, -1) {
		start := m[2]
		if p := strings.Index(b[m[0]:m[1]], "://"); p >= 0 {
			if slash := strings.IndexByte(b[m[0]+p+3:m[1]], '/'); slash >= 0 {
				start = m[0] + p + 3 + slash + 1
			}
		}
		add(start, m[1])
	}
	// Each name in turn, also one inside another's value (a URL's query);
	// only a credential's value is read, so this stays linear.
	for at := 0; at < len(b) && strings.ContainsAny(b[at:], "=:"); {
		m := namedValue().FindStringSubmatchIndex(b[at:])
		if m == nil {
			break
		}
		name, sep := b[at+m[2]:at+m[3]], b[at+m[4]:at+m[5]]
		at += m[4] // the separator may start the next name's boundary
		if !credentialFlag(name) {
			at++
			continue
		}
		sc := scheme().FindStringSubmatchIndex(b[at+1:])
		start := at + 1 + sc[1]
		end := start
		for end < len(b) && !unicode.IsSpace(rune(b[end])) && !strings.ContainsRune(`"',;&}`, rune(b[end])) {
			end++
		}
		at = max(end, at+1)
		value, named := b[start:end], sc[2] >= 0
		if v := strings.ToLower(value); !named && (v == "bearer" || v == "basic" || v == "token") {
			continue // Authorization: Bearer ${TOKEN}
		}
		if !named && sep == ":" && lowerWord().MatchString(value) {
			continue // prose: "token: required", "password: none"
		}
		add(start, end)
	}
	lower := strings.ToLower(b)
	for _, m := range when(strings.Contains(lower, "bearer ") || strings.Contains(lower, "basic "), bearer).FindAllStringSubmatchIndex(b, -1) {
		add(m[2], m[3])
	}
	for _, m := range when(strings.Contains(b, "PRIVATE KEY"), privateKey).FindAllStringIndex(b, -1) {
		add(m[0], m[1])
	}
	return mergeSpans(out)
}

// nothing matches nothing: when(ok, re) is re() where a cheap test says it
// may match, else a pattern that matches nothing, at no cost.
var nothing = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\z.`) })

func when(ok bool, re func() *regexp.Regexp) *regexp.Regexp {
	if ok {
		return re()
	}
	return nothing()
}

// tokenEnd extends a token found at the start of b to the end of its
// run of token characters.
func tokenEnd(b string, end int) int {
	for end < len(b) && !unicode.IsSpace(rune(b[end])) && !strings.ContainsRune(`"',;&}`, rune(b[end])) {
		end++
	}
	return end
}

// mergeSpans sorts spans and joins those that overlap.
func mergeSpans(spans []span) []span {
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	out := []span{spans[0]}
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.start <= last.end {
			last.end = max(last.end, s.end)
			continue
		}
		out = append(out, s)
	}
	return out
}

// masked is s with each span replaced by ****.
func masked(s string, spans []span) string {
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		b.WriteString(s[at:sp.start])
		b.WriteString("****")
		at = sp.end
	}
	b.WriteString(s[at:])
	return b.String()
}

// ArgCredential is a credential on a server's command line: wrap cannot
// move it (mcpcell never puts a secret in a command line, which every
// local user can read), so it stays in the config, and wrap says so.
type ArgCredential struct {
	Index  int    // in the entry's args
	Masked string // the argument with the credential as ****
	After  string // the flag it is the value of, if any
	Parts  []string
}

// argCredentials finds the credentials in a command line: by form in any
// argument, the value of a flag named like a credential (--api-key X,
// --api-key=X), and NAME=VALUE (docker's -e TOKEN=…).
func argCredentials(args []string) []ArgCredential {
	var out []ArgCredential
	for i, a := range args {
		spans := secretSpans(a)
		after := ""
		if i > 0 && isCredentialFlag(args[i-1]) && !strings.HasPrefix(a, "-") && !strings.Contains(blankRefs(a), "\x00") && strings.TrimSpace(a) != "" {
			spans, after = []span{{0, len(a)}}, args[i-1]
		}
		if len(spans) == 0 {
			continue
		}
		c := ArgCredential{Index: i, Masked: masked(a, spans), After: after}
		for _, sp := range spans {
			c.Parts = append(c.Parts, a[sp.start:sp.end])
		}
		out = append(out, c)
	}
	return out
}

// isCredentialFlag reports whether a is a flag (-x, --name) named like a
// credential, whose value is the next argument.
func isCredentialFlag(a string) bool {
	name, ok := strings.CutPrefix(a, "-")
	if !ok || strings.ContainsAny(name, "= ") {
		return false
	}
	return credentialFlag(strings.TrimPrefix(name, "-"))
}

// MaskArgs is a command line with each credential wrap finds in it (as
// it warns about them) written as ****: for records and messages that
// must not hold a copy of one.
func MaskArgs(words []string) []string {
	out := append([]string(nil), words...)
	for _, c := range argCredentials(words) {
		if c.Index >= 0 && c.Index < len(out) {
			out[c.Index] = c.Masked
		}
	}
	return out
}
