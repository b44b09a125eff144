package rollout

import (
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// TestDecide holds the release policy to each rule: the push check, the
// target's tag pattern, the strategies and their "already", and the
// order of publish-time and semver.
func TestDecide(t *testing.T) {
	semverTarget := func(rng string) mapping.Target {
		tg := setImage("prod", "prod")
		tg.Policy, tg.SemverRange = mapping.PolicySemver, rng
		return tg
	}
	pattern := func(p string) mapping.Target {
		tg := setImage("prod", "prod")
		tg.TagPattern = p
		return tg
	}
	running := img + ":v1" // a set-image container before its first push
	for _, tc := range []struct {
		name     string
		svcImage string // the service's image, when not img
		target   mapping.Target
		image    string // the container's image
		prev     *Entry
		push     Push
		want     Action
		reason   string // a part of the reason
		ver      string // the Version of the decision
	}{
		// Rule 1: the push is checked; violations are refused.
		{name: "well-formed push", target: setImage("prod", "prod"), image: running, push: push(img, 1, "v2", 10), want: Roll},
		{name: "digest of another image", target: setImage("prod", "prod"), image: running, push: Push{Digest: ref(proxy, 1), Tag: img + ":v2", PublishedAt: 10}, want: Refuse, reason: "is not an image of " + img},
		{name: "digest of an image the mapped one prefixes", target: setImage("prod", "prod"), image: running, push: Push{Digest: ref(img+"-evil", 1), Tag: img + ":v2", PublishedAt: 10}, want: Refuse, reason: "is not an image of"},
		{name: "digest in upper case", target: setImage("prod", "prod"), image: running, push: Push{Digest: img + "@sha256:" + strings.Repeat("A", 64), Tag: img + ":v2", PublishedAt: 10}, want: Refuse, reason: "malformed"},
		{name: "digest too short", target: setImage("prod", "prod"), image: running, push: Push{Digest: img + "@sha256:" + strings.Repeat("a", 63), Tag: img + ":v2", PublishedAt: 10}, want: Refuse, reason: "malformed"},
		{name: "digest too long", target: setImage("prod", "prod"), image: running, push: Push{Digest: img + "@sha256:" + strings.Repeat("a", 65), Tag: img + ":v2", PublishedAt: 10}, want: Refuse, reason: "malformed"},
		{name: "digest of another algorithm", target: setImage("prod", "prod"), image: running, push: Push{Digest: img + "@sha512:" + strings.Repeat("a", 64), Tag: img + ":v2", PublishedAt: 10}, want: Refuse, reason: "malformed"},
		{name: "digest with a trailing newline", target: setImage("prod", "prod"), image: running, push: Push{Digest: ref(img, 1) + "\n", Tag: img + ":v2", PublishedAt: 10}, want: Refuse, reason: "malformed"},
		{name: "tag of another image", target: setImage("prod", "prod"), image: running, push: Push{Digest: ref(img, 1), Tag: proxy + ":v2", PublishedAt: 10}, want: Refuse, reason: "is not a tag of " + img},
		{name: "empty tag", target: setImage("prod", "prod"), image: running, push: Push{Digest: ref(img, 1), Tag: img + ":", PublishedAt: 10}, want: Refuse, reason: "malformed"},
		{name: "tag starting with a dot", target: setImage("prod", "prod"), image: running, push: Push{Digest: ref(img, 1), Tag: img + ":.v2", PublishedAt: 10}, want: Refuse, reason: "malformed"},
		{name: "tag with a slash", target: setImage("prod", "prod"), image: running, push: Push{Digest: ref(img, 1), Tag: img + ":v2/x", PublishedAt: 10}, want: Refuse, reason: "malformed"},
		{name: "tag of 129 characters", target: setImage("prod", "prod"), image: running, push: Push{Digest: ref(img, 1), Tag: img + ":" + strings.Repeat("a", 129), PublishedAt: 10}, want: Refuse, reason: "malformed"},
		{name: "tag of 128 characters", target: setImage("prod", "prod"), image: running, push: Push{Digest: ref(img, 1), Tag: img + ":" + strings.Repeat("a", 128), PublishedAt: 10}, want: Roll},
		{name: "publish time zero", target: setImage("prod", "prod"), image: running, push: push(img, 1, "v2", 0), want: Refuse, reason: "publish time"},
		{name: "publish time negative", target: setImage("prod", "prod"), image: running, push: push(img, 1, "v2", -5), want: Refuse, reason: "publish time"},
		{name: "unknown strategy", target: func() mapping.Target { tg := setImage("prod", "prod"); tg.Strategy = "recreate"; return tg }(), image: running, push: push(img, 1, "v2", 10), want: Refuse, reason: `unknown strategy "recreate"`},
		{name: "unknown policy", target: func() mapping.Target { tg := setImage("prod", "prod"); tg.Policy = "newest"; return tg }(), image: running, push: push(img, 1, "v2", 10), want: Refuse, reason: `unknown policy "newest"`},

		// Rule 2: the target's tag pattern, anchored, decides whether the tag is for it.
		{name: "tag matches the pattern", target: pattern(`v\d+\.\d+\.\d+`), image: running, push: push(img, 1, "v1.2.3", 10), want: Roll},
		{name: "pattern is anchored at the end", target: pattern(`v\d+\.\d+\.\d+`), image: running, push: push(img, 1, "v1.2.3-rc1", 10), want: Skip, reason: `tag v1.2.3-rc1 does not match target prod's tagPattern v\d+\.\d+\.\d+`},
		{name: "pattern is anchored at the start", target: pattern(`v\d+\.\d+\.\d+`), image: running, push: push(img, 1, "xv1.2.3", 10), want: Skip, reason: "does not match"},
		{name: "alternation is anchored as a whole", target: pattern(`main|release`), image: running, push: push(img, 1, "main-abc", 10), want: Skip, reason: "does not match"},
		{name: "alternation matches either", target: pattern(`main|release`), image: running, push: push(img, 1, "release", 10), want: Roll},
		{name: "invalid pattern", target: pattern(`(`), image: running, push: push(img, 1, "v1", 10), want: Refuse, reason: "tagPattern"},

		// Rule 4: set-image pins the digest; already when the container runs it.
		{name: "set-image already runs the digest", target: setImage("prod", "prod"), image: ref(img, 1), push: push(img, 1, "v2", 10), want: Already},
		{name: "set-image already, even when an older push", target: setImage("prod", "prod"), image: ref(img, 1), prev: &Entry{Digest: dig(1), PublishedAt: 50}, push: push(img, 1, "v2", 10), want: Already},
		{name: "set-image from another digest", target: setImage("prod", "prod"), image: ref(img, 2), prev: &Entry{Digest: dig(2), PublishedAt: 5}, push: push(img, 1, "v2", 10), want: Roll},
		{name: "set-image: state says the digest, the container does not run it", target: setImage("prod", "prod"), image: ref(img, 2), prev: &Entry{Digest: dig(1), Tag: "v2", PublishedAt: 10}, push: push(img, 1, "v2", 10), want: Roll},

		// Rule 4: restart moves only the tag the container references.
		{name: "restart of the referenced tag", target: restart("prod", "prod"), image: img + ":latest", push: push(img, 1, "latest", 10), want: Roll},
		{name: "restart: no tag is latest", target: restart("prod", "prod"), image: img, push: push(img, 1, "latest", 10), want: Roll},
		{name: "restart: another tag does not move the container", target: restart("prod", "prod"), image: img + ":latest", push: push(img, 1, "pr-123", 10), want: Skip, reason: "container web references :latest; pr-123 does not move it"},
		{name: "restart: no tag is latest, another tag", target: restart("prod", "prod"), image: img, push: push(img, 1, "pr-123", 10), want: Skip, reason: "references :latest"},
		{name: "restart of a version tag", target: restart("prod", "prod"), image: img + ":stable", push: push(img, 1, "stable", 10), want: Roll},
		{name: "restart: registry with a port", svcImage: "localhost:5000/web", target: restart("prod", "prod"), image: "localhost:5000/web:stable", push: push("localhost:5000/web", 1, "stable", 10), want: Roll},
		{name: "restart: container runs another repository", target: restart("prod", "prod"), image: proxy + ":latest", push: push(img, 1, "latest", 10), want: Refuse, reason: "runs " + proxy + ":latest, not an image of " + img},
		{name: "restart: container pins a digest", target: restart("prod", "prod"), image: ref(img, 1), push: push(img, 1, "latest", 10), want: Refuse, reason: "use strategy set-image"},
		{name: "restart: container pins a digest under a tag", target: restart("prod", "prod"), image: img + ":latest@" + dig(1), push: push(img, 1, "latest", 10), want: Refuse, reason: "use strategy set-image"},
		{name: "restart already: same digest and tag", target: restart("prod", "prod"), image: img + ":latest", prev: &Entry{Digest: dig(1), Tag: "latest", PublishedAt: 10}, push: push(img, 1, "latest", 12), want: Already},
		{name: "restart: re-tag of a recorded digest rolls", target: restart("prod", "prod"), image: img + ":latest", prev: &Entry{Digest: dig(1), Tag: "pr-123", PublishedAt: 10}, push: push(img, 1, "latest", 12), want: Roll},
		{name: "restart: legacy state has no tag, so it rolls", target: restart("prod", "prod"), image: img + ":latest", prev: &Entry{Digest: dig(1), PublishedAt: 10}, push: push(img, 1, "latest", 12), want: Roll},

		// Rule 5: publish-time orders by publish time, never by arrival.
		{name: "publish-time: nothing recorded", target: setImage("prod", "prod"), image: running, push: push(img, 1, "v2", 10), want: Roll},
		{name: "publish-time: newer push", target: setImage("prod", "prod"), image: ref(img, 2), prev: &Entry{Digest: dig(2), Tag: "v1", PublishedAt: 5}, push: push(img, 1, "v2", 10), want: Roll},
		{name: "publish-time: same publish time", target: setImage("prod", "prod"), image: ref(img, 2), prev: &Entry{Digest: dig(2), Tag: "v1", PublishedAt: 10}, push: push(img, 1, "v2", 10), want: Roll},
		{name: "publish-time: older push", target: setImage("prod", "prod"), image: ref(img, 2), prev: &Entry{Digest: dig(2), Tag: "v3", PublishedAt: 30}, push: push(img, 1, "v2", 10), want: Skip, reason: "target prod already has a newer push (v3 at " + dig(2)},
		{name: "publish-time: an undone entry keeps its publish time", target: setImage("prod", "prod"), image: ref(img, 2), prev: &Entry{Digest: dig(2), PublishedAt: 30, Outcome: StateUndone, Undone: dig(3)}, push: push(img, 1, "v2", 10), want: Skip, reason: "newer push"},
		{name: "publish-time ignores versions", target: setImage("prod", "prod"), image: ref(img, 2), prev: &Entry{Digest: dig(2), Version: "9.0.0", PublishedAt: 5}, push: push(img, 1, "v1.0.0", 10), want: Roll},

		// Rule 5: semver never moves down; equal versions go by publish time.
		{name: "semver: v prefix", target: semverTarget(""), image: running, push: push(img, 1, "v1.2.3", 10), want: Roll, ver: "1.2.3"},
		{name: "semver: no prefix", target: semverTarget(""), image: running, push: push(img, 1, "1.2.3", 10), want: Roll, ver: "1.2.3"},
		{name: "semver: prerelease", target: semverTarget(""), image: running, push: push(img, 1, "v1.2.3-rc.1", 10), want: Roll, ver: "1.2.3-rc.1"},
		{name: "semver: not a version", target: semverTarget(""), image: running, push: push(img, 1, "latest", 10), want: Skip, reason: "tag latest is not a semantic version; target prod uses policy semver"},
		{name: "semver: partial version", target: semverTarget(""), image: running, push: push(img, 1, "v1.2", 10), want: Skip, reason: "is not a semantic version"},
		{name: "semver: inside the range", target: semverTarget("^1.2"), image: running, push: push(img, 1, "v1.4.0", 10), want: Roll, ver: "1.4.0"},
		{name: "semver: outside the range", target: semverTarget("^1.2"), image: running, push: push(img, 1, "v2.0.0", 10), want: Skip, reason: "version 2.0.0 is outside target prod's semverRange ^1.2"},
		{name: "semver: invalid range", target: semverTarget("~>>1"), image: running, push: push(img, 1, "v2.0.0", 10), want: Refuse, reason: "semverRange"},
		{name: "semver: lower version published later", target: semverTarget(""), image: ref(img, 2), prev: &Entry{Digest: dig(2), Tag: "v1.3.0", Version: "1.3.0", PublishedAt: 5}, push: push(img, 1, "v1.2.1", 10), want: Skip, reason: "never moves to a lower version: runs 1.3.0, pushed 1.2.1"},
		{name: "semver: higher version published earlier", target: semverTarget(""), image: ref(img, 2), prev: &Entry{Digest: dig(2), Version: "1.3.0", PublishedAt: 50}, push: push(img, 1, "v1.3.1", 10), want: Roll, ver: "1.3.1"},
		{name: "semver: equal version published later", target: semverTarget(""), image: ref(img, 2), prev: &Entry{Digest: dig(2), Version: "1.3.0", PublishedAt: 5}, push: push(img, 1, "v1.3.0", 10), want: Roll, ver: "1.3.0"},
		{name: "semver: equal version published earlier", target: semverTarget(""), image: ref(img, 2), prev: &Entry{Digest: dig(2), Version: "1.3.0", PublishedAt: 50}, push: push(img, 1, "1.3.0", 10), want: Skip, reason: "newer push"},
		{name: "semver: no recorded version", target: semverTarget(""), image: ref(img, 2), prev: &Entry{Digest: dig(2), PublishedAt: 50}, push: push(img, 1, "v1.0.0", 10), want: Roll, ver: "1.0.0"},
		{name: "semver: recorded version unreadable", target: semverTarget(""), image: ref(img, 2), prev: &Entry{Digest: dig(2), Version: "one", PublishedAt: 5}, push: push(img, 1, "v1.0.0", 10), want: Refuse, reason: `recorded version "one"`},
		{name: "semver with restart: already", target: func() mapping.Target {
			tg := semverTarget("")
			tg.Strategy = mapping.StrategyRestart
			return tg
		}(), image: img + ":v1.3.0", prev: &Entry{Digest: dig(1), Tag: "v1.3.0", Version: "1.3.0", PublishedAt: 5}, push: push(img, 1, "v1.3.0", 10), want: Already, ver: "1.3.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			image := img
			if tc.svcImage != "" {
				image = tc.svcImage
			}
			svc := service("web", image, tc.target)
			tg := &svc.Targets[0]
			got := Decide(&svc, tg, tc.image, tc.prev, tc.push)
			if got.Action != tc.want || !strings.Contains(got.Reason, tc.reason) || got.Version != tc.ver {
				t.Errorf("Decide = %+v, want %s with reason containing %q, version %q", got, tc.want, tc.reason, tc.ver)
			}
			if (got.Action == Roll) != (got.Reason == "") {
				t.Errorf("Decide = %+v: a roll has no reason, anything else has one", got)
			}
			// Admit agrees with Decide on what the push alone decides.
			if a := Admit(&svc, tg, tc.push); a.Action != Roll && (a.Action != got.Action || a.Reason != got.Reason) {
				t.Errorf("Admit = %+v, Decide = %+v", a, got)
			}
		})
	}
}

// TestParseImage pins how a container image is split: the tag after the
// last colon of the last path element, latest when there is neither tag
// nor digest.
func TestParseImage(t *testing.T) {
	for image, want := range map[string]imageRef{
		"web":                             {repo: "web", tag: "latest"},
		"web:1":                           {repo: "web", tag: "1"},
		"localhost:5000/web":              {repo: "localhost:5000/web", tag: "latest"},
		"localhost:5000/web:v2":           {repo: "localhost:5000/web", tag: "v2"},
		"r.io/a/web@" + dig(1):            {repo: "r.io/a/web", digest: dig(1)},
		"r.io/a/web:v1@" + dig(1):         {repo: "r.io/a/web", tag: "v1", digest: dig(1)},
		"localhost:5000/web:v1@" + dig(1): {repo: "localhost:5000/web", tag: "v1", digest: dig(1)},
	} {
		if got := parseImage(image); got != want {
			t.Errorf("parseImage(%q) = %+v, want %+v", image, got, want)
		}
	}
}
