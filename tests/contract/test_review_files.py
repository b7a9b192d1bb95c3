"""Reading the user's review files (contract/review_files.py): streamed whatever their size,
every review with the line or record it came from, printed values refused as the TFDS input's
are."""
import gzip
import tracemalloc

import pytest
import tensorflow as tf

from contract.review_files import InputDataError, ReviewFormat, read_reviews, read_texts

LABELLED = ReviewFormat("text", "label", (), "auto")
TEXTS = ReviewFormat("text", "", (), "auto")


def _write(path, data: bytes):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)
    return str(path)


def _csv(rows, header=("text", "label")) -> bytes:
    lines = [",".join(header)] + [",".join(f'"{v}"' for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _tfrecord(path, texts):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for text in texts:
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))})
            ).SerializeToString())
    return str(path)


def _review(index: int) -> str:
    return f"Review {index}: a fine film, " + "truly fine and moving " * 50


@pytest.mark.parametrize("name", ["big.csv", "big.csv.gz", "big.txt", "big.txt.gz"])
def test_memory_stays_bounded_whatever_the_file_size(tmp_path, name):
    count = 24_000  # About 27 MB of text.
    if ".txt" in name:
        data = "".join(_review(i) + "\n" for i in range(count)).encode("utf-8")
    else:
        data = _csv([(_review(i), i % 2) for i in range(count)])
    path = _write(tmp_path / name, data)
    tracemalloc.start()
    try:
        reviews = read_texts(path, TEXTS) if ".txt" in name else read_reviews(path, LABELLED)
        read = sum(1 for _ in reviews)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == count
    assert peak < 6 * 2**20, f"{peak / 2**20:.1f} MiB held to read {len(data) / 2**20:.0f} MiB"


@pytest.mark.parametrize("name", ["r.csv", "r.csv.gz"])
def test_reviews_before_a_bad_byte_arrive_then_its_line_is_named(tmp_path, name):
    good = _csv([(_review(i), 1) for i in range(1000)])  # Lines 1 to 1001.
    path = _write(tmp_path / name, good + b'"caf\xe9 au lait",0\n' + _csv([("ok", 1)])[11:])
    read = []
    with pytest.raises(InputDataError) as error:
        for review in read_reviews(path, LABELLED):
            read.append(review)
    assert len(read) == 1000
    assert str(error.value) == (f"{path}: line 1002: not UTF-8 text "
                                "(invalid continuation byte)")


def test_a_review_of_one_and_a_half_mib(tmp_path):
    long_review = "An epic review. " * (3 * 2**16)  # 1.5 MiB.
    path = _write(tmp_path / "long.csv", _csv([(long_review, 1), ("short", 0)]))
    assert list(read_reviews(path, LABELLED)) == [(long_review.encode(), 1), (b"short", 0)]


@pytest.mark.parametrize("name", ["r.txt", "r.txt.gz"])
def test_txt_lines_carry_their_line_number_without_the_bom(tmp_path, name):
    data = "\ufeffFirst review\r\n\r\n  \nSecond, after blanks\nThird é\n\nlast, no newline"
    path = _write(tmp_path / name, data.encode("utf-8"))
    assert list(read_texts(path, TEXTS)) == [
        (1, b"First review"), (4, b"Second, after blanks"), (5, "Third é".encode()),
        (7, b"last, no newline")]


def test_csv_rows_are_the_line_where_each_record_starts(tmp_path):
    data = '\ufefftext,y\n"one",0\n\n"two\nlines, ""quoted""\n",1\nthree,0\r\n"four",1\n'
    path = _write(tmp_path / "r.csv", data.encode("utf-8"))
    assert list(read_texts(path, TEXTS)) == [
        (2, b"one"), (4, b'two\nlines, "quoted"\n'), (7, b"three"), (8, b"four")]


def test_a_bad_multi_line_record_names_its_first_line(tmp_path):
    path = _write(tmp_path / "r.csv", b'text,label\n"two\nlines",1\n"bad\nlabel",7\n')
    with pytest.raises(InputDataError, match=r"r\.csv: line 4: label '7'"):
        list(read_reviews(path, LABELLED))


def test_tfrecord_rows_are_record_numbers(tmp_path):
    path = _tfrecord(tmp_path / "r.tfrecord", [b"first", b"second"])
    assert list(read_texts(path, TEXTS)) == [(1, b"first"), (2, b"second")]


def test_a_csv_of_printed_bytes_is_refused_naming_file_line_and_value(tmp_path):
    first = "b'" + "An overlong printed review. " * 40 + "'"
    rows = [(first, 1)] + [(f"b'Review {i} was great.'", i % 2) for i in range(11)]
    path = _write(tmp_path / "printed.csv", _csv(rows))
    with pytest.raises(InputDataError) as error:
        list(read_reviews(path, LABELLED))
    message = str(error.value)
    assert message.startswith(f"{path}: line 2: 12 of 12 reviews look like ")
    assert "a printed Python bytes literal" in message
    assert "b'An overlong printed review. An overlong" in message
    assert len(message) < 500 and "\n" not in message


def test_a_tfrecord_of_printed_tensors_is_refused_naming_the_record(tmp_path):
    texts = [b"A real review."] + [str(tf.constant(f"Film {i}")).encode() for i in range(3)]
    path = _tfrecord(tmp_path / "printed.tfrecord", texts)
    with pytest.raises(InputDataError, match=r"printed\.tfrecord: record 2: 3 of 4 reviews "
                                             r"look like .*tf\.Tensor.*b\\?'Film 0"):
        list(read_reviews(path, LABELLED))


def test_reviews_mentioning_a_printed_value_pass(tmp_path):
    rows = [(_review(i), i % 2) for i in range(18)]
    rows += [("My b'day present: a great film, b'bye boredom.", 1),  # Mentions b' in text.
             ("b'the one review of twenty that is a printed value'", 0)]
    path = _write(tmp_path / "fine.csv", _csv(rows))
    assert [text for text, _ in read_reviews(path, LABELLED)] == [
        text.encode() for text, _ in rows]

