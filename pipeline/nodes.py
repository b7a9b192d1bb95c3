"""The pipeline's node ids (create_pipeline sets each), which reports and Kubeflow settings
look nodes up by."""

EXAMPLE_GEN = "TfdsExampleGen"
FILE_EXAMPLE_GEN = "FileExampleGen"  # With --input-pattern, in place of TfdsExampleGen.
EXAMPLE_GENS = (EXAMPLE_GEN, FILE_EXAMPLE_GEN)
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "CuratedSchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
ANOMALIES_GATE = "AnomaliesGate"
DRIFT_GATE = "DriftGate"  # With --input-pattern: the new span against the served model's data.
TRANSFORM = "Transform"
TUNER = "Tuner"
TRAINER = "Trainer"  # The model that is evaluated and pushed (the student when distilling).
TEACHER = "Teacher"  # With --unlabeled-split: the Trainer whose model labels the unlabeled reviews.
SERVING_BASELINE = "ServingBaseline"
WARM_START_MODEL = "WarmStartModel"  # With --warm-start: the served model the Trainer starts from.
EVALUATOR = "Evaluator"
PUSHER = "Pusher"
