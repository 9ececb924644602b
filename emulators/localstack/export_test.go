package localstack

// PIDs returns each function process's ID, for the tests of a lost process and of Stop.
func (st *Stack) PIDs() map[string]int {
	pids := map[string]int{}
	for _, p := range st.procs.list {
		pids[p.name] = p.cmd.Process.Pid
	}
	return pids
}

// Backends returns each function process's base URL.
func (st *Stack) Backends() map[string]string { return st.procs.backends() }

// PushURL is the base URL of the Pub/Sub push listener (without its secret path).
func (st *Stack) PushURL() string { return st.pushURL }
