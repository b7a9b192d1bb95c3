"""How review text becomes word tokens: one rule for Transform (trainer/preprocessing.py), the
drift check on new data (components/drift.py) and the data profile a model is exported with
(contract/data_profile.py), which must all count the same tokens."""
import tensorflow as tf

_HTML_TAG = r"<[^>]*>"
# Punctuation becomes tokens of its own ("great!" -> "great", "!"); apostrophes stay inside
# words ("don't"), so GloVe's contractions still match.
_PUNCTUATION = r"""([!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~])"""


def normalize(text: tf.Tensor) -> tf.Tensor:
    """Lowercases, drops HTML tags such as IMDB's `<br />` and spaces out punctuation."""
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, _HTML_TAG, " ")
    return tf.strings.regex_replace(text, _PUNCTUATION, r" \1 ")


def tokenize(text: tf.Tensor) -> tf.RaggedTensor:
    """[batch] strings -> [batch, (tokens)] ragged strings, split on whitespace."""
    return tf.strings.split(normalize(text))
