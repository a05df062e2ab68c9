package e2e

import "testing"

// TestParseTable needs no cluster: kubectl's tables with empty cells (PREV after a promote) and
// cells with blanks (RESTARTS "3 (5s ago)").
func TestParseTable(t *testing.T) {
	out := "NAME           URL                                           READY   PREV   LATEST   PREVROLLEDOUTREVISION   LATESTREADYREVISION            AGE\n" +
		"sklearn-iris   http://sklearn-iris.kserve-test.example.com   True           100                              sklearn-iris-predictor-00002   17m\n"
	tab, err := ParseTable(out)
	if err != nil {
		t.Fatal(err)
	}
	row := tab.Rows[0]
	if row["PREV"] != "" || row["LATEST"] != "100" || row["PREVROLLEDOUTREVISION"] != "" ||
		row["LATESTREADYREVISION"] != "sklearn-iris-predictor-00002" || row["AGE"] != "17m" || row["READY"] != "True" {
		t.Fatalf("%#v", row)
	}
	pods := "NAME                                                 READY   STATUS                  RESTARTS      AGE\n" +
		"broken-predictor-00001-deployment-5cc949b6d9-j7rvc   0/2     Init:CrashLoopBackOff   12 (3s ago)   114s\n"
	tab, err = ParseTable(pods)
	if err != nil {
		t.Fatal(err)
	}
	if r := tab.Rows[0]; r["STATUS"] != "Init:CrashLoopBackOff" || r["RESTARTS"] != "12 (3s ago)" || r["AGE"] != "114s" {
		t.Fatalf("%#v", r)
	}
	if !PodName("broken-predictor-00001").MatchString(tab.Rows[0]["NAME"]) {
		t.Fatalf("pod name %q", tab.Rows[0]["NAME"])
	}
}
