# The two commands of the README. Everything else lives in infra/.
.PHONY: up down test
up:    ## run Gatehouse locally (Ctrl-C stops it)
	bash infra/local/up.sh
down:  ## stop a stack started with infra/local/up.sh --detach
	bash infra/local/down.sh
test:  ## the whole test suite (what CI runs)
	bash infra/test.sh
