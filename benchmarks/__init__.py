"""Benchmarks: ``python -m benchmarks NAME [options]`` runs ``benchmarks/NAME.py:main(argv)``.

``benchmarks.generate`` builds realistic Terraform v4 states for benchmarks and tests.
"""
