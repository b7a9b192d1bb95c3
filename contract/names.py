"""Names that several packages must spell the same way: splits and files the pipeline's
components, trainer code and reports all read or write."""

UNLABELED_SPLIT = "unlabeled"  # Reviews without labels (label -1), for distillation only.
SCHEMA_FILE = "schema.pbtxt"  # In a Schema artifact's folder (CuratedSchemaGen, Evaluator).
TRAINING_SUMMARY_FILE = "training_summary.json"  # In the Trainer's model_run folder.
