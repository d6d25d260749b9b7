package submit

import "testing"

func TestResultErr(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  Result
		want string
	}{
		{"accepted", Result{Outcome: Accepted, Stage: StageData, Code: 250}, ""},
		{"rejected", Result{Outcome: Rejected, Stage: StageRcpt, Code: 550, EnhancedCode: "5.1.1", Text: "no such user"},
			"rejected at rcpt: 550 5.1.1 no such user"},
		{"deferred without enhanced code", Result{Outcome: Deferred, Stage: StageMail, Code: 451, Text: "try later"},
			"deferred at mail: 451 try later"},
		{"no reply", Result{Outcome: Failed, Stage: StageConnect, Reason: "dial tcp 127.0.0.1:1: connect: connection refused"},
			"error at connect: dial tcp 127.0.0.1:1: connect: connection refused"},
		{"nothing known", Result{Stage: StageBanner}, "error at banner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.res.Err()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Err() = %q, want %q", got, tc.want)
			}
		})
	}
}
