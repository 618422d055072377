"""``python -m logitkit ...`` (also what ``torchrun -m logitkit`` runs)."""
from logitkit.pipeline.cli import main

raise SystemExit(main())
