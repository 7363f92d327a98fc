package manifest

import (
	"reflect"
	"testing"

	"github.com/portico-dev/portico/portal/client"
)

// A manifest's CORS settings compare as the server stores them, so that
// apply sends them only when they differ.
func TestNormalSettingsCORS(t *testing.T) {
	have := client.Settings{MaxBodyBytes: defaultMaxBodyBytes, CORSOrigins: []string{"https://a.example"}, CORSMaxAge: client.Ptr(600)}
	if want := (client.Settings{CORSOrigins: []string{"HTTPS://A.example:443", "https://a.example"}}); !reflect.DeepEqual(normalSettings(want), normalSettings(have)) {
		t.Errorf("same settings differ: %+v vs %+v", normalSettings(want), normalSettings(have))
	}
	for _, want := range []client.Settings{
		{CORSOrigins: []string{"https://a.example"}, CORSMaxAge: client.Ptr(60)},
		{CORSOrigins: []string{"https://b.example"}},
		{},
	} {
		if reflect.DeepEqual(normalSettings(want), normalSettings(have)) {
			t.Errorf("%+v compares equal to %+v", want, have)
		}
	}
}
