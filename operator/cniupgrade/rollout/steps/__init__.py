"""The steps of a decision, one module each, in the order a plan goes through them (rollout/decide.py lists
them): checks, approval, migrations, pre-pull, control plane, nodes (with failure and rollback), success."""
