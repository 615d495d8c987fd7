package profiles

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzSettings checks that the hand-written --settings JSON means what
// encoding/json would have written for the same variables.
func FuzzSettings(f *testing.F) {
	f.Add("code", "sonnet", "us-west-2", "dev", "haiku")
	f.Add("a\"b\\c", "x\x00\x1f\x7f", "\xff\xfe", "é\u2028", "<&>")
	f.Fuzz(func(t *testing.T, name, model, region, awsProfile, small string) {
		p := Profile{Name: name, Model: model, Region: region, AWSProfile: awsProfile, SmallFastModel: small, MaxOutputTokens: 4096}
		env := map[string]string{}
		for _, v := range p.Vars() {
			env[v.Key] = v.Value
		}
		ref, err := json.Marshal(map[string]any{"env": env})
		if err != nil {
			t.Fatal(err)
		}
		var got, want any
		if err := json.Unmarshal([]byte(p.Settings()), &got); err != nil {
			t.Fatalf("Settings() = %s: not JSON: %v", p.Settings(), err)
		}
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Settings() = %s means %v; encoding/json writes %s", p.Settings(), got, ref)
		}
	})
}
