package bridge

import (
	"net/url"
	"strings"
	"testing"
)

var pollQuerySeeds = []string{
	"",
	"cursor=abc-1",
	"cursor=abc-1&session=xyz",
	"wait=0",
	"wait=0&cursor=E_x-9",
	"callback=cb&cursor=a-1",
	"callback",
	"callback=",
	"cursor=a-1&cursor=b-2",
	"cursor=bad%zz&cursor=a-2",
	"cursor=a-1;x=2&cursor=c-3",
	"%63ursor=escaped-key-4",
	"c%zzursor=x&cursor=y-5",
	"cursor=a+b%20c",
	"wait=+0&wait=0",
	"&&cursor=&wait=1",
	"=x&cursor",
	"cursor=a%2",
	"session=s%2Fid&session=other",
	strings.Repeat("a=1&", maxQueryParams) + "cursor=a-1",
	strings.Repeat("a=1&", maxQueryParams-2) + "cursor=a-1",
}

// TestPollQueryMatchesParseQuery holds the allocation-free query reading to
// net/url's answers.
func TestPollQueryMatchesParseQuery(t *testing.T) {
	for _, raw := range pollQuerySeeds {
		checkPollQuery(t, raw)
	}
}

func FuzzPollQuery(f *testing.F) {
	for _, raw := range pollQuerySeeds {
		if len(raw) < 1000 {
			f.Add(raw)
		}
	}
	f.Fuzz(checkPollQuery)
}

func checkPollQuery(t *testing.T, raw string) {
	want := (&url.URL{RawQuery: raw}).Query()
	got := parsePollQuery(raw)
	short := raw
	if len(short) > 60 {
		short = short[:60] + "..."
	}
	if got.cursor != want.Get("cursor") || got.wait != want.Get("wait") ||
		got.callback != want.Get("callback") || got.hasCallback != want.Has("callback") {
		t.Errorf("parsePollQuery(%q) = %+v, net/url: cursor=%q wait=%q callback=%q (has %v)",
			short, got, want.Get("cursor"), want.Get("wait"), want.Get("callback"), want.Has("callback"))
	}
	for _, key := range []string{"session", "cursor", "callback", "a"} {
		v, ok := queryValue(raw, key)
		if v != want.Get(key) || ok != want.Has(key) {
			t.Errorf("queryValue(%q, %q) = %q, %v; net/url: %q, %v", short, key, v, ok, want.Get(key), want.Has(key))
		}
	}
}
