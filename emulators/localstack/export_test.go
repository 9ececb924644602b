package localstack

// PIDs returns the function processes' IDs, for the test that Stop leaves none running.
func (st *Stack) PIDs() []int {
	pids := []int{}
	for _, p := range st.procs.list {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}
