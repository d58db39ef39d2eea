# Thin wrappers: tasks.py is the one place the targets are defined (it needs only Python).
.PHONY: setup run test bench
setup:
	python3 tasks.py setup
run:
	python3 tasks.py run
test:
	python3 tasks.py test
bench:
	python3 tasks.py bench
