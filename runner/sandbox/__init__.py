"""The Docker sandbox: image build, container spec and hardening, lifecycle, self-check."""
