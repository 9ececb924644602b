package localstack

// PIDs returns the function processes' IDs, for the test that Stop leaves none running.
func (st *Stack) PIDs() []int {
	pids := []int{}
	for _, p := range st.procs.list {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// Backends returns each function process's base URL.
func (st *Stack) Backends() map[string]string { return st.procs.backends() }

// PushURL is the base URL of the Pub/Sub push listener (without its secret path).
func (st *Stack) PushURL() string { return st.pushURL }
