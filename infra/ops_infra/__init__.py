"""The AWS CDK (v2, Python) app of the ops platform: one stack ``OpsPlatform-<stage>`` per stage (dev, staging, prod).

``infra/app.py`` is the entry point (``npx aws-cdk synth -c stage=dev`` from ``infra/``); the stack is
:class:`ops_infra.stack.OpsPlatformStack`, its sizes per stage :mod:`ops_infra.config`.
"""
