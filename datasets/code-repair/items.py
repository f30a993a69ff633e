"""Item definitions of the code-repair suite (read by make_problems.py).

Each item: the bug kind, the correct function, the edits (old, new) that make the buggy
version, and the hidden test statements (`candidate` is the function under test;
`_raises(Exc, fn, *args)` is true when the call raises Exc). Written for sparkbench.
"""

ITEMS = []


def I(kind, fixed, edits, tests):
    ITEMS.append({"kind": kind, "fixed": fixed, "edits": edits, "tests": tests})


# ---------------------------------------------------------------- off_by_one
K = "off_by_one"
I(K, '''
def sum_first_n(values, n):
    """Sum of the first n items of values (all of them when n > len(values))."""
    total = 0
    for i in range(min(n, len(values))):
        total += values[i]
    return total
''', [("range(min(n, len(values)))", "range(min(n, len(values)) - 1)")],
  ["assert candidate([1, 2, 3, 4], 2) == 3", "assert candidate([5], 1) == 5", "assert candidate([1, 2], 5) == 3", "assert candidate([], 3) == 0", "assert candidate([4, 4, 4], 0) == 0"])

I(K, '''
def last_index_of(items, target):
    """Index of the last occurrence of target in items, or -1 when it is absent."""
    for i in range(len(items) - 1, -1, -1):
        if items[i] == target:
            return i
    return -1
''', [("range(len(items) - 1, -1, -1)", "range(len(items) - 1, 0, -1)")],
  ["assert candidate([1, 2, 1], 1) == 2", "assert candidate([3, 4], 3) == 0", "assert candidate([], 1) == -1", "assert candidate([7], 7) == 0", "assert candidate([1, 2], 9) == -1"])

I(K, '''
def count_between(a, b):
    """How many integers lie from a to b, both included (0 when b < a)."""
    return max(0, b - a + 1)
''', [("b - a + 1", "b - a")],
  ["assert candidate(1, 3) == 3", "assert candidate(5, 5) == 1", "assert candidate(4, 2) == 0", "assert candidate(-2, 2) == 5"])

I(K, '''
def pairwise_diffs(xs):
    """List of xs[i + 1] - xs[i] for each neighbouring pair."""
    out = []
    for i in range(len(xs) - 1):
        out.append(xs[i + 1] - xs[i])
    return out
''', [("range(len(xs) - 1)", "range(len(xs))")],
  ["assert candidate([1, 4, 9]) == [3, 5]", "assert candidate([5]) == []", "assert candidate([]) == []", "assert candidate([2, 2, 1]) == [0, -1]"])

I(K, '''
def nth_fib(n):
    """The n-th Fibonacci number: nth_fib(0) == 0, nth_fib(1) == 1, nth_fib(2) == 1."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
''', [("range(n)", "range(n - 1)")],
  ["assert candidate(0) == 0", "assert candidate(1) == 1", "assert candidate(2) == 1", "assert candidate(10) == 55", "assert candidate(20) == 6765"])

I(K, '''
def window_sums(xs, k):
    """Sums of every run of k consecutive items, left to right."""
    return [sum(xs[i:i + k]) for i in range(len(xs) - k + 1)]
''', [("range(len(xs) - k + 1)", "range(len(xs) - k)")],
  ["assert candidate([1, 2, 3, 4], 2) == [3, 5, 7]", "assert candidate([1, 2, 3], 3) == [6]", "assert candidate([5], 1) == [5]", "assert candidate([1, 2], 3) == []"])

I(K, '''
def lower_middle(xs):
    """The middle item of a non-empty list; for an even length, the left one of the two middle items."""
    return xs[(len(xs) - 1) // 2]
''', [("xs[(len(xs) - 1) // 2]", "xs[len(xs) // 2]")],
  ["assert candidate([1, 2, 3]) == 2", "assert candidate([1, 2, 3, 4]) == 2", "assert candidate([9]) == 9", "assert candidate([5, 6]) == 5"])

I(K, '''
def is_sorted(xs):
    """True when xs is in non-decreasing order (an empty list is sorted)."""
    for i in range(1, len(xs)):
        if xs[i - 1] > xs[i]:
            return False
    return True
''', [("range(1, len(xs))", "range(len(xs))")],
  ["assert candidate([1, 2, 2, 3]) == True", "assert candidate([3, 1]) == False", "assert candidate([]) == True", "assert candidate([4]) == True", "assert candidate([1, 3, 2]) == False"])

I(K, '''
def digit_count(n):
    """Number of decimal digits of a non-negative integer (digit_count(0) == 1)."""
    count = 1
    while n >= 10:
        n //= 10
        count += 1
    return count
''', [("while n >= 10:", "while n > 10:")],
  ["assert candidate(0) == 1", "assert candidate(7) == 1", "assert candidate(10) == 2", "assert candidate(99) == 2", "assert candidate(100) == 3", "assert candidate(12345) == 5"])

I(K, '''
def staircase(n):
    """Rows [1], [1, 2], ..., [1, ..., n]; an empty list for n <= 0."""
    return [list(range(1, i + 1)) for i in range(1, n + 1)]
''', [("list(range(1, i + 1))", "list(range(1, i))")],
  ["assert candidate(3) == [[1], [1, 2], [1, 2, 3]]", "assert candidate(1) == [[1]]", "assert candidate(0) == []"])

I(K, '''
def kth_smallest(xs, k):
    """The k-th smallest item of xs, counting from k = 1."""
    return sorted(xs)[k - 1]
''', [("sorted(xs)[k - 1]", "sorted(xs)[k]")],
  ["assert candidate([5, 1, 4], 1) == 1", "assert candidate([5, 1, 4], 3) == 5", "assert candidate([2, 2, 1], 2) == 2", "assert candidate([8], 1) == 8"])

I(K, '''
def page_count(n_items, per_page):
    """Pages needed to show n_items items, per_page on each page (0 items need 0 pages)."""
    return (n_items + per_page - 1) // per_page
''', [("(n_items + per_page - 1) // per_page", "(n_items + per_page) // per_page")],
  ["assert candidate(10, 5) == 2", "assert candidate(11, 5) == 3", "assert candidate(0, 5) == 0", "assert candidate(1, 10) == 1", "assert candidate(4, 1) == 4"])

# ---------------------------------------------------------------- wrong_operator
K = "wrong_operator"
I(K, '''
def average(xs):
    """Arithmetic mean of a non-empty list of numbers, as a float."""
    return sum(xs) / len(xs)
''', [("sum(xs) / len(xs)", "sum(xs) // len(xs)")],
  ["assert candidate([1, 2]) == 1.5", "assert candidate([4]) == 4.0", "assert candidate([1, 2, 3, 5]) == 2.75", "assert candidate([-1, 0]) == -0.5"])

I(K, '''
def in_range(x, lo, hi):
    """True when lo <= x <= hi."""
    return lo <= x and x <= hi
''', [("lo <= x and x <= hi", "lo <= x or x <= hi")],
  ["assert candidate(5, 1, 10) == True", "assert candidate(11, 1, 10) == False", "assert candidate(0, 1, 10) == False", "assert candidate(1, 1, 1) == True"])

I(K, '''
def is_power_of_two(n):
    """True when n is a positive power of two (1, 2, 4, 8, ...)."""
    return n > 0 and (n & (n - 1)) == 0
''', [("n > 0 and (n & (n - 1)) == 0", "n > 0 or (n & (n - 1)) == 0")],
  ["assert candidate(1) == True", "assert candidate(4) == True", "assert candidate(6) == False", "assert candidate(0) == False", "assert candidate(1024) == True", "assert candidate(-8) == False"])

I(K, '''
def celsius_to_fahrenheit(c):
    """Convert degrees Celsius to degrees Fahrenheit."""
    return c * 9 / 5 + 32
''', [("c * 9 / 5 + 32", "c * 9 / 5 - 32")],
  ["assert candidate(0) == 32", "assert candidate(100) == 212", "assert candidate(-40) == -40"])

I(K, '''
def count_matches(xs, target):
    """How many items of xs equal target."""
    count = 0
    for x in xs:
        if x == target:
            count += 1
    return count
''', [("if x == target:", "if x != target:")],
  ["assert candidate([1, 2, 1], 1) == 2", "assert candidate([], 1) == 0", "assert candidate([3, 3], 4) == 0"])

I(K, '''
def relu(x):
    """x when x is positive, else 0."""
    return x if x > 0 else 0
''', [("x if x > 0 else 0", "x if x < 0 else 0")],
  ["assert candidate(3) == 3", "assert candidate(-2) == 0", "assert candidate(0) == 0", "assert candidate(0.5) == 0.5"])

I(K, '''
def symmetric_difference(a, b):
    """Sorted list of the values that are in exactly one of the lists a and b."""
    return sorted(set(a) ^ set(b))
''', [("set(a) ^ set(b)", "set(a) & set(b)")],
  ["assert candidate([1, 2, 3], [2, 3, 4]) == [1, 4]", "assert candidate([], [5]) == [5]", "assert candidate([1], [1]) == []"])

I(K, '''
def compound(principal, rate, years):
    """Value of principal after compounding at rate per year for a whole number of years."""
    return principal * (1 + rate) ** years
''', [("principal * (1 + rate) ** years", "principal * (1 + rate) * years")],
  ["assert candidate(100, 0.5, 2) == 225.0", "assert candidate(100, 0.1, 0) == 100", "assert candidate(80, 0.25, 1) == 100.0"])

I(K, '''
def both_positive(a, b):
    """True when a and b are both greater than zero."""
    return a > 0 and b > 0
''', [("a > 0 and b > 0", "a > 0 or b > 0")],
  ["assert candidate(1, 2) == True", "assert candidate(1, -2) == False", "assert candidate(-1, 2) == False", "assert candidate(0, 0) == False"])

I(K, '''
def distance(p, q):
    """Euclidean distance between two points given as (x, y) tuples."""
    return ((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2) ** 0.5
''', [(") ** 0.5", ") * 0.5")],
  ["assert candidate((0, 0), (3, 4)) == 5.0", "assert candidate((1, 1), (1, 1)) == 0.0", "assert candidate((0, 0), (0, 2)) == 2.0"])

I(K, '''
def halve_all(xs):
    """Each integer of xs halved and rounded down, as integers."""
    return [x // 2 for x in xs]
''', [("x // 2", "x / 2")],
  ["assert candidate([3, 4]) == [1, 2]", "assert candidate([]) == []", "assert candidate([-3]) == [-2]"])

I(K, '''
def net_price(price, discount):
    """Price after taking off a discount given as a fraction (0.25 means 25% off)."""
    return price - price * discount
''', [("price - price * discount", "price + price * discount")],
  ["assert candidate(100, 0.25) == 75.0", "assert candidate(40, 0) == 40", "assert candidate(10, 1) == 0"])

# ---------------------------------------------------------------- missing_edge_case
K = "missing_edge_case"
I(K, '''
def mean_or_none(xs):
    """Mean of the numbers in xs, or None when xs is empty."""
    if not xs:
        return None
    return sum(xs) / len(xs)
''', [("    if not xs:\n        return None\n", "")],
  ["assert candidate([2, 4]) == 3.0", "assert candidate([]) is None", "assert candidate([5]) == 5.0"])

I(K, '''
def first_word(s):
    """The first whitespace-separated word of s, or "" when s has none."""
    words = s.split()
    return words[0] if words else ""
''', [("words[0] if words else \"\"", "words[0]")],
  ["assert candidate('hello world') == 'hello'", "assert candidate('  x  ') == 'x'", "assert candidate('') == ''", "assert candidate('   ') == ''"])

I(K, '''
def max_or_default(xs, default):
    """The largest item of xs, or default when xs is empty."""
    return max(xs) if xs else default
''', [("max(xs) if xs else default", "max(xs)")],
  ["assert candidate([1, 5, 2], 0) == 5", "assert candidate([], -1) == -1", "assert candidate([-3], 0) == -3"])

I(K, '''
def safe_divide(a, b):
    """a / b, or None when b is zero."""
    if b == 0:
        return None
    return a / b
''', [("    if b == 0:\n        return None\n", "")],
  ["assert candidate(6, 3) == 2.0", "assert candidate(1, 0) is None", "assert candidate(0, 5) == 0.0"])

I(K, '''
def capitalize_first(s):
    """s with its first character upper-cased; the empty string stays empty."""
    if not s:
        return s
    return s[0].upper() + s[1:]
''', [("    if not s:\n        return s\n", "")],
  ["assert candidate('hello') == 'Hello'", "assert candidate('') == ''", "assert candidate('a') == 'A'", "assert candidate('Already') == 'Already'"])

I(K, '''
def factorial(n):
    """n! for a non-negative integer n (0! == 1)."""
    if n <= 1:
        return 1
    return n * factorial(n - 1)
''', [("if n <= 1:", "if n == 1:")],
  ["assert candidate(5) == 120", "assert candidate(1) == 1", "assert candidate(0) == 1", "assert candidate(10) == 3628800"])

I(K, '''
def gcd(a, b):
    """Greatest common divisor of two integers, never negative (gcd(0, 0) == 0)."""
    while b:
        a, b = b, a % b
    return abs(a)
''', [("return abs(a)", "return a")],
  ["assert candidate(12, 18) == 6", "assert candidate(7, 0) == 7", "assert candidate(-4, 6) == 2", "assert candidate(-5, 0) == 5", "assert candidate(0, 0) == 0"])

I(K, '''
def median(xs):
    """Median of a non-empty list of numbers; for an even count, the mean of the two middle values."""
    s = sorted(xs)
    m = len(s) // 2
    if len(s) % 2 == 0:
        return (s[m - 1] + s[m]) / 2
    return s[m]
''', [("    if len(s) % 2 == 0:\n        return (s[m - 1] + s[m]) / 2\n", "")],
  ["assert candidate([3, 1, 2]) == 2", "assert candidate([4, 1, 3, 2]) == 2.5", "assert candidate([7]) == 7", "assert candidate([1, 3]) == 2.0"])

I(K, '''
def second_largest(xs):
    """The second largest distinct value of xs, or None when there are fewer than two distinct values."""
    distinct = sorted(set(xs))
    if len(distinct) < 2:
        return None
    return distinct[-2]
''', [("    if len(distinct) < 2:\n        return None\n", "")],
  ["assert candidate([1, 5, 3]) == 3", "assert candidate([5, 5, 4]) == 4", "assert candidate([5, 5]) is None", "assert candidate([]) is None"])

I(K, '''
def initials(name):
    """Upper-case initials of the words of name, however many spaces separate them."""
    return "".join(w[0].upper() for w in name.split())
''', [("name.split()", "name.split(\" \")")],
  ["assert candidate('ada lovelace') == 'AL'", "assert candidate('grace  brewster hopper') == 'GBH'", "assert candidate(' x ') == 'X'", "assert candidate('') == ''"])

I(K, '''
def last_n(xs, n):
    """The last n items of xs as a list (empty when n <= 0, all of xs when n >= len(xs))."""
    if n <= 0:
        return []
    return xs[-n:]
''', [("    if n <= 0:\n        return []\n", "")],
  ["assert candidate([1, 2, 3], 2) == [2, 3]", "assert candidate([1, 2, 3], 0) == []", "assert candidate([1], 5) == [1]", "assert candidate([1, 2], -1) == []"])

I(K, '''
def normalize(xs):
    """Each value divided by the largest value of xs; a list of zeros stays zeros (as floats)."""
    top = max(xs)
    if top == 0:
        return [0.0 for _ in xs]
    return [x / top for x in xs]
''', [("    if top == 0:\n        return [0.0 for _ in xs]\n", "")],
  ["assert candidate([1, 2, 4]) == [0.25, 0.5, 1.0]", "assert candidate([0, 0]) == [0.0, 0.0]", "assert candidate([3]) == [1.0]"])

# ---------------------------------------------------------------- wrong_variable
K = "wrong_variable"
I(K, '''
def dot(a, b):
    """Dot product of two equally long lists of numbers."""
    return sum(x * y for x, y in zip(a, b))
''', [("x * y for", "x * x for")],
  ["assert candidate([1, 2], [3, 4]) == 11", "assert candidate([], []) == 0", "assert candidate([2], [5]) == 10"])

I(K, '''
def min_max(xs):
    """(smallest, largest) item of a non-empty list."""
    lo = hi = xs[0]
    for x in xs[1:]:
        if x < lo:
            lo = x
        if x > hi:
            hi = x
    return lo, hi
''', [("        if x > hi:\n            hi = x", "        if x > hi:\n            lo = x")],
  ["assert candidate([3, 1, 2]) == (1, 3)", "assert candidate([5]) == (5, 5)", "assert candidate([1, 9]) == (1, 9)", "assert candidate([-1, -5, 0]) == (-5, 0)"])

I(K, '''
def count_longer(words, n):
    """How many words are longer than n characters."""
    return sum(1 for w in words if len(w) > n)
''', [("len(w) > n", "len(words) > n")],
  ["assert candidate(['a', 'abc', 'abcd'], 2) == 2", "assert candidate([], 0) == 0", "assert candidate(['xy', 'z'], 5) == 0", "assert candidate(['a', 'b', 'c'], 2) == 0"])

I(K, '''
def rect_area(width, height):
    """Area of a width x height rectangle."""
    return width * height
''', [("width * height", "width * width")],
  ["assert candidate(2, 3) == 6", "assert candidate(4, 4) == 16", "assert candidate(0, 9) == 0", "assert candidate(5, 1) == 5"])

I(K, '''
def merge_dicts(a, b):
    """A new dict with the entries of a, then those of b (b wins on equal keys); a and b are unchanged."""
    result = dict(a)
    for k, v in b.items():
        result[k] = v
    return result
''', [("for k, v in b.items():", "for k, v in a.items():")],
  ["assert candidate({'x': 1}, {'y': 2}) == {'x': 1, 'y': 2}", "assert candidate({'x': 1}, {'x': 3}) == {'x': 3}", "assert candidate({}, {}) == {}"])

I(K, '''
def index_of_max(xs):
    """Index of the first largest item of a non-empty list."""
    best = 0
    for i in range(1, len(xs)):
        if xs[i] > xs[best]:
            best = i
    return best
''', [("if xs[i] > xs[best]:", "if xs[i] > best:")],
  ["assert candidate([1, 3, 2]) == 1", "assert candidate([5, 1, 5]) == 0", "assert candidate([7]) == 0", "assert candidate([10, 20, 30]) == 2"])

I(K, '''
def full_name(first, last):
    """First and last name joined by one space."""
    return f"{first} {last}"
''', [('f"{first} {last}"', 'f"{first} {first}"')],
  ["assert candidate('Ada', 'Lovelace') == 'Ada Lovelace'", "assert candidate('A', 'B') == 'A B'"])

I(K, '''
def running_total(xs):
    """Running sums: the i-th item is xs[0] + ... + xs[i]."""
    total = 0
    out = []
    for x in xs:
        total += x
        out.append(total)
    return out
''', [("out.append(total)", "out.append(x)")],
  ["assert candidate([1, 2, 3]) == [1, 3, 6]", "assert candidate([]) == []", "assert candidate([5, -5]) == [5, 0]"])

I(K, '''
def char_positions(s, ch):
    """Indexes at which the character ch occurs in s."""
    return [i for i, c in enumerate(s) if c == ch]
''', [("if c == ch", "if c == s")],
  ["assert candidate('banana', 'a') == [1, 3, 5]", "assert candidate('', 'a') == []", "assert candidate('xyz', 'q') == []", "assert candidate('aa', 'a') == [0, 1]"])

I(K, '''
def transpose(m):
    """Transpose of a non-empty rectangular matrix given as a list of rows."""
    return [[m[r][c] for r in range(len(m))] for c in range(len(m[0]))]
''', [("m[r][c] for r", "m[c][r] for r")],
  ["assert candidate([[1, 2], [3, 4]]) == [[1, 3], [2, 4]]", "assert candidate([[1, 2, 3]]) == [[1], [2], [3]]", "assert candidate([[1], [2]]) == [[1, 2]]"])

I(K, '''
def replace_all(items, old, new):
    """A copy of items with every item equal to old replaced by new."""
    return [new if x == old else x for x in items]
''', [("if x == old", "if x == new")],
  ["assert candidate([1, 2, 1], 1, 9) == [9, 2, 9]", "assert candidate([], 1, 2) == []", "assert candidate([3], 4, 5) == [3]"])

I(K, '''
def total_price(cart, prices):
    """Total cost of a cart {item: quantity} given unit prices {item: price}."""
    return sum(prices[item] * qty for item, qty in cart.items())
''', [("prices[item] * qty", "qty * qty")],
  ["assert candidate({'apple': 3}, {'apple': 2}) == 6", "assert candidate({}, {'x': 1}) == 0", "assert candidate({'a': 1, 'b': 2}, {'a': 5, 'b': 1}) == 7"])

# ---------------------------------------------------------------- mutable_default
K = "mutable_default"
I(K, '''
def append_item(item, items=None):
    """items with item appended; a new list when items is not given."""
    if items is None:
        items = []
    items.append(item)
    return items
''', [("items=None", "items=[]"), ("    if items is None:\n        items = []\n", "")],
  ["assert candidate(1) == [1]", "assert candidate(2) == [2]", "assert candidate(3, [0]) == [0, 3]"])

I(K, '''
def add_tag(tag, tags=None):
    """The set tags with tag added; a new set when tags is not given."""
    if tags is None:
        tags = set()
    tags.add(tag)
    return tags
''', [("tags=None", "tags=set()"), ("    if tags is None:\n        tags = set()\n", "")],
  ["assert candidate(1) == {1}", "assert candidate(2) == {2}", "assert candidate(3, {9}) == {9, 3}"])

I(K, '''
def count_word(word, counts=None):
    """Increment counts[word] and return counts; a new dict when counts is not given."""
    if counts is None:
        counts = {}
    counts[word] = counts.get(word, 0) + 1
    return counts
''', [("counts=None", "counts={}"), ("    if counts is None:\n        counts = {}\n", "")],
  ["assert candidate('hi') == {'hi': 1}", "assert candidate('hi') == {'hi': 1}", "assert candidate('a', {'a': 2}) == {'a': 3}"])

I(K, '''
def build_path(part, parts=None):
    """Append part to the list parts and return them joined by "/"; a new list when parts is not given."""
    if parts is None:
        parts = []
    parts.append(part)
    return "/".join(parts)
''', [("parts=None", "parts=[]"), ("    if parts is None:\n        parts = []\n", "")],
  ["assert candidate('usr') == 'usr'", "assert candidate('tmp') == 'tmp'", "assert candidate('b', ['a']) == 'a/b'"])

I(K, '''
def collect_evens(xs, out=None):
    """Append the even numbers of xs to out and return out; a new list when out is not given."""
    if out is None:
        out = []
    for x in xs:
        if x % 2 == 0:
            out.append(x)
    return out
''', [("out=None", "out=[]"), ("    if out is None:\n        out = []\n", "")],
  ["assert candidate([1, 2, 4]) == [2, 4]", "assert candidate([6]) == [6]", "assert candidate([3]) == []", "assert candidate([2], [0]) == [0, 2]"])

I(K, '''
def make_record(name, age=None, fields=None):
    """A dict with "name" and, when age is given, "age", added to fields (a new dict when not given)."""
    if fields is None:
        fields = {}
    fields["name"] = name
    if age is not None:
        fields["age"] = age
    return fields
''', [("fields=None", "fields={}"), ("    if fields is None:\n        fields = {}\n", "")],
  ["assert candidate('ann', 30) == {'name': 'ann', 'age': 30}", "assert candidate('bob') == {'name': 'bob'}", "assert candidate('cy', fields={'id': 1}) == {'id': 1, 'name': 'cy'}"])

I(K, '''
def log_event(event, history=None):
    """Append event to history and return how many events it holds; a new list when history is not given."""
    if history is None:
        history = []
    history.append(event)
    return len(history)
''', [("history=None", "history=[]"), ("    if history is None:\n        history = []\n", "")],
  ["assert candidate('start') == 1", "assert candidate('stop') == 1", "assert candidate('x', ['a', 'b']) == 3"])

I(K, '''
def merge_into(src, dst=None):
    """Copy the entries of src into dst and return dst; a new dict when dst is not given."""
    if dst is None:
        dst = {}
    dst.update(src)
    return dst
''', [("dst=None", "dst={}"), ("    if dst is None:\n        dst = {}\n", "")],
  ["assert candidate({'a': 1}) == {'a': 1}", "assert candidate({'b': 2}) == {'b': 2}", "assert candidate({'a': 1}, {'z': 0}) == {'z': 0, 'a': 1}"])

I(K, '''
def unique_words(text, seen=None):
    """Add the words of text to the set seen and return them sorted; a new set when seen is not given."""
    if seen is None:
        seen = set()
    seen.update(text.split())
    return sorted(seen)
''', [("seen=None", "seen=set()"), ("    if seen is None:\n        seen = set()\n", "")],
  ["assert candidate('b a b') == ['a', 'b']", "assert candidate('c') == ['c']", "assert candidate('x', {'y'}) == ['x', 'y']"])

I(K, '''
def with_defaults(options=None):
    """options with "verbose" (False) and "level" (1) filled in where missing; a new dict when not given."""
    if options is None:
        options = {}
    options.setdefault("verbose", False)
    options.setdefault("level", 1)
    return options
''', [("options=None", "options={}"), ("    if options is None:\n        options = {}\n", "")],
  ["r = candidate(); r['level'] = 5", "assert candidate() == {'verbose': False, 'level': 1}", "assert candidate({'level': 3}) == {'level': 3, 'verbose': False}"])

I(K, '''
def split_into(text, parts=None):
    """Extend parts with the comma-separated fields of text and return it; a new list when parts is not given."""
    if parts is None:
        parts = []
    parts.extend(text.split(","))
    return parts
''', [("parts=None", "parts=[]"), ("    if parts is None:\n        parts = []\n", "")],
  ["assert candidate('a,b') == ['a', 'b']", "assert candidate('c') == ['c']", "assert candidate('y', ['x']) == ['x', 'y']"])

I(K, '''
def add_edge(a, b, adj=None):
    """Add the directed edge a -> b to the adjacency dict adj and return it; a new dict when adj is not given."""
    if adj is None:
        adj = {}
    adj.setdefault(a, []).append(b)
    return adj
''', [("adj=None", "adj={}"), ("    if adj is None:\n        adj = {}\n", "")],
  ["assert candidate(1, 2) == {1: [2]}", "assert candidate(1, 3) == {1: [3]}", "assert candidate(2, 4, {2: [1]}) == {2: [1, 4]}"])

# ---------------------------------------------------------------- exception_handling
K = "exception_handling"
I(K, '''
def parse_int(s, default):
    """int(s), or default when s is not an integer literal."""
    try:
        return int(s)
    except ValueError:
        return default
''', [("except ValueError:", "except TypeError:")],
  ["assert candidate('42', 0) == 42", "assert candidate('x', -1) == -1", "assert candidate(' 7 ', 0) == 7", "assert candidate('', 5) == 5"])

I(K, '''
def safe_get(d, key):
    """d[key], or None when the key is missing."""
    try:
        return d[key]
    except KeyError:
        return None
''', [("except KeyError:", "except IndexError:")],
  ["assert candidate({'a': 1}, 'a') == 1", "assert candidate({}, 'a') is None", "assert candidate({'b': 0}, 'c') is None"])

I(K, '''
def to_floats(items):
    """The items of items that parse as floats, converted; the others are skipped."""
    out = []
    for s in items:
        try:
            out.append(float(s))
        except ValueError:
            continue
    return out
''', [("            continue", "            break")],
  ["assert candidate(['1', '2.5']) == [1.0, 2.5]", "assert candidate(['x', '3']) == [3.0]", "assert candidate(['1', 'y', '2']) == [1.0, 2.0]", "assert candidate([]) == []"])

I(K, '''
def checked_sqrt(x):
    """Square root of x; raises ValueError for a negative x."""
    if x < 0:
        raise ValueError("negative input")
    return x ** 0.5
''', [("raise ValueError(", "raise TypeError(")],
  ["assert candidate(9) == 3.0", "assert candidate(0) == 0.0", "assert _raises(ValueError, candidate, -1)"])

I(K, '''
def ratios(pairs):
    """a / b for each (a, b) in pairs, with None where b is zero."""
    out = []
    for a, b in pairs:
        try:
            out.append(a / b)
        except ZeroDivisionError:
            out.append(None)
    return out
''', [("    for a, b in pairs:\n        try:\n            out.append(a / b)\n        except ZeroDivisionError:\n            out.append(None)\n",
       "    try:\n        for a, b in pairs:\n            out.append(a / b)\n    except ZeroDivisionError:\n        out.append(None)\n")],
  ["assert candidate([(1, 2)]) == [0.5]", "assert candidate([(1, 0), (4, 2)]) == [None, 2.0]", "assert candidate([]) == []"])

I(K, '''
def first_int(items):
    """The first item of items that int() accepts, converted, or None when there is none."""
    for s in items:
        try:
            return int(s)
        except ValueError:
            pass
    return None
''', [("        except ValueError:\n            pass", "        except ValueError:\n            return None")],
  ["assert candidate(['5', 'x']) == 5", "assert candidate(['x', '7']) == 7", "assert candidate(['a', 'b']) is None", "assert candidate([]) is None"])

I(K, '''
def call_with_fallback(fn, fallback):
    """fn() when it returns normally, fallback when it raises an Exception."""
    try:
        return fn()
    except Exception:
        return fallback
''', [("    except Exception:\n        return fallback", "    finally:\n        return fallback")],
  ["assert candidate(lambda: 1, 0) == 1", "assert candidate(lambda: 1 / 0, -1) == -1", "assert candidate(lambda: 'ok', None) == 'ok'"])

I(K, '''
def parse_pair(line):
    """Split "key=value" at the first "=" into (key, value); raises ValueError when there is no "="."""
    if "=" not in line:
        raise ValueError("no '=' in " + repr(line))
    key, value = line.split("=", 1)
    return key, value
''', [("    if \"=\" not in line:\n        raise ValueError(\"no '=' in \" + repr(line))\n    key, value = line.split(\"=\", 1)\n",
       "    try:\n        key, value = line.split(\"=\", 1)\n    except ValueError:\n        return None\n")],
  ["assert candidate('a=1') == ('a', '1')", "assert candidate('x=y=z') == ('x', 'y=z')", "assert _raises(ValueError, candidate, 'novalue')"])

I(K, '''
def sum_numbers(items):
    """Sum of the items that are numbers; other items (strings, None, ...) are ignored."""
    total = 0
    for x in items:
        try:
            total += x
        except TypeError:
            pass
    return total
''', [("except TypeError:", "except ValueError:")],
  ["assert candidate([1, 2]) == 3", "assert candidate([1, 'a', 2]) == 3", "assert candidate([None, 4]) == 4", "assert candidate([]) == 0"])

I(K, '''
def lookup_all(d, keys):
    """The values of d for those keys that are present, in key order; missing keys are skipped."""
    out = []
    for k in keys:
        try:
            out.append(d[k])
        except KeyError:
            pass
    return out
''', [("    for k in keys:\n        try:\n            out.append(d[k])\n        except KeyError:\n            pass\n",
       "    try:\n        for k in keys:\n            out.append(d[k])\n    except KeyError:\n        pass\n")],
  ["assert candidate({'a': 1, 'b': 2}, ['a', 'b']) == [1, 2]", "assert candidate({'a': 1, 'b': 2}, ['x', 'b']) == [2]", "assert candidate({}, []) == []"])

I(K, '''
def get_port(config):
    """int(config["port"]), 80 when there is no "port"; raises ValueError when it is not an integer."""
    try:
        value = config["port"]
    except KeyError:
        return 80
    return int(value)
''', [("    try:\n        value = config[\"port\"]\n    except KeyError:\n        return 80\n    return int(value)\n",
       "    try:\n        return int(config[\"port\"])\n    except (KeyError, ValueError):\n        return 80\n")],
  ["assert candidate({'port': '8080'}) == 8080", "assert candidate({}) == 80", "assert _raises(ValueError, candidate, {'port': 'http'})"])

I(K, '''
def pop_or_none(stack):
    """Remove and return the last item of the list stack, or None when it is empty."""
    try:
        return stack.pop()
    except IndexError:
        return None
''', [("except IndexError:", "except KeyError:")],
  ["assert candidate([1, 2]) == 2", "assert candidate([]) is None", "s = [5]; candidate(s); assert s == []"])

# ---------------------------------------------------------------- wrong_return
K = "wrong_return"
I(K, '''
def find_index(xs, target):
    """Index of the first item equal to target, or -1."""
    for i, x in enumerate(xs):
        if x == target:
            return i
    return -1
''', [("            return i", "            return x")],
  ["assert candidate([5, 6, 7], 6) == 1", "assert candidate([], 1) == -1", "assert candidate([3], 3) == 0"])

I(K, '''
def all_positive(xs):
    """True when every number in xs is greater than zero (True for an empty list)."""
    for x in xs:
        if x <= 0:
            return False
    return True
''', [("        if x <= 0:\n            return False\n", "        if x <= 0:\n            return False\n        else:\n            return True\n")],
  ["assert candidate([1, 2]) == True", "assert candidate([1, -2]) == False", "assert candidate([]) == True", "assert candidate([0]) == False"])

I(K, '''
def sorted_copy(xs):
    """A sorted copy of xs; xs itself is left unchanged."""
    out = list(xs)
    out.sort()
    return out
''', [("    out.sort()\n    return out\n", "    return out.sort()\n")],
  ["assert candidate([3, 1, 2]) == [1, 2, 3]", "assert candidate([]) == []", "v = [2, 1]; candidate(v); assert v == [2, 1]"])

I(K, '''
def unique_sorted(xs):
    """The distinct items of xs in increasing order, as a list."""
    return sorted(set(xs))
''', [("sorted(set(xs))", "set(xs)")],
  ["assert candidate([3, 1, 3]) == [1, 3]", "assert candidate([]) == []", "assert candidate([2]) == [2]"])

I(K, '''
def count_vowels(s):
    """How many characters of s are vowels (a, e, i, o, u, either case)."""
    found = [c for c in s if c.lower() in "aeiou"]
    return len(found)
''', [("return len(found)", "return found")],
  ["assert candidate('hello') == 2", "assert candidate('') == 0", "assert candidate('AEIxyz') == 3"])

I(K, '''
def div_mod(a, b):
    """(quotient, remainder) of integer division of a by a positive b."""
    q = a // b
    r = a % b
    return q, r
''', [("return q, r", "return r, q")],
  ["assert candidate(7, 2) == (3, 1)", "assert candidate(6, 3) == (2, 0)", "assert candidate(-7, 2) == (-4, 1)"])

I(K, '''
def key_of_max(d):
    """The key with the largest value in a non-empty dict (the first such key on ties)."""
    best = None
    for k, v in d.items():
        if best is None or v > d[best]:
            best = k
    return best
''', [("    return best\n", "    return d[best]\n")],
  ["assert candidate({'a': 1, 'b': 3}) == 'b'", "assert candidate({'x': 0}) == 'x'", "assert candidate({'p': 2, 'q': 2}) == 'p'"])

I(K, '''
def contains(xs, target):
    """True when target is in xs, else False."""
    for x in xs:
        if x == target:
            return True
    return False
''', [("            return True\n    return False\n", "            return True\n")],
  ["assert candidate([1, 2], 2) == True", "assert candidate([1, 2], 3) == False", "assert candidate([], 0) == False"])

I(K, '''
def apply_discount(prices, fraction):
    """A new list with every price reduced by fraction (0.1 = 10% off); prices is unchanged."""
    out = [p * (1 - fraction) for p in prices]
    return out
''', [("    return out\n", "    return prices\n")],
  ["assert candidate([100, 50], 0.5) == [50.0, 25.0]", "assert candidate([], 0.1) == []", "assert candidate([10], 0) == [10]"])

I(K, '''
def strip_comments(lines):
    """The lines that do not start with "#", as a list."""
    return [l for l in lines if not l.startswith("#")]
''', [('[l for l in lines if not l.startswith("#")]', '(l for l in lines if not l.startswith("#"))')],
  ["assert candidate(['a', '# b', 'c']) == ['a', 'c']", "assert candidate([]) == []", "assert candidate(['#x']) == []"])

I(K, '''
def mean(xs):
    """Arithmetic mean of a non-empty list of numbers."""
    total = 0
    for x in xs:
        total += x
    return total / len(xs)
''', [("return total / len(xs)", "return total")],
  ["assert candidate([2, 4]) == 3.0", "assert candidate([5]) == 5.0", "assert candidate([1, 2, 3, 4]) == 2.5"])

I(K, '''
def word_lengths(words):
    """A dict mapping each word to its length."""
    lengths = {}
    for w in words:
        lengths[w] = len(w)
    return lengths
''', [("    return lengths\n", "    return list(lengths.values())\n")],
  ["assert candidate(['a', 'bcd']) == {'a': 1, 'bcd': 3}", "assert candidate([]) == {}", "assert candidate(['xy', 'xy']) == {'xy': 2}"])

# ---------------------------------------------------------------- boundary_condition
K = "boundary_condition"
I(K, '''
def is_adult(age):
    """True for ages of 18 or more."""
    return age >= 18
''', [("age >= 18", "age > 18")],
  ["assert candidate(30) == True", "assert candidate(17) == False", "assert candidate(18) == True"])

I(K, '''
def letter_grade(score):
    """"A" for 90 and up, "B" for 80-89, "C" for 70-79, else "F"."""
    if score >= 90:
        return "A"
    if score >= 80:
        return "B"
    if score >= 70:
        return "C"
    return "F"
''', [("if score >= 90:", "if score > 90:")],
  ["assert candidate(95) == 'A'", "assert candidate(85) == 'B'", "assert candidate(90) == 'A'", "assert candidate(70) == 'C'", "assert candidate(10) == 'F'"])

I(K, '''
def valid_index(i, n):
    """True when i is a valid index of a list of length n (0 <= i < n)."""
    return 0 <= i < n
''', [("return 0 <= i < n", "return 0 <= i <= n")],
  ["assert candidate(0, 3) == True", "assert candidate(2, 3) == True", "assert candidate(3, 3) == False", "assert candidate(-1, 3) == False", "assert candidate(0, 0) == False"])

I(K, '''
def binary_search(xs, target):
    """Index of target in the sorted list xs, or -1 when it is absent."""
    lo, hi = 0, len(xs) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if xs[mid] == target:
            return mid
        if xs[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1
''', [("while lo <= hi:", "while lo < hi:")],
  ["assert candidate([1, 3, 5, 7], 5) == 2", "assert candidate([4], 4) == 0", "assert candidate([1, 3], 3) == 1", "assert candidate([], 1) == -1", "assert candidate([1, 3, 5], 4) == -1"])

I(K, '''
def within_limit(weight, limit):
    """True when a bag of this weight is allowed: at most limit."""
    return weight <= limit
''', [("weight <= limit", "weight < limit")],
  ["assert candidate(5, 10) == True", "assert candidate(10, 10) == True", "assert candidate(11, 10) == False"])

I(K, '''
def shipping_cost(total):
    """0 for orders of 50 or more, else 5."""
    return 0 if total >= 50 else 5
''', [("total >= 50", "total > 50")],
  ["assert candidate(80) == 0", "assert candidate(20) == 5", "assert candidate(50) == 0", "assert candidate(49.99) == 5"])

I(K, '''
def truncate(s, n):
    """s when it has at most n characters, else its first n - 3 characters followed by "..." (n >= 3)."""
    if len(s) <= n:
        return s
    return s[:n - 3] + "..."
''', [("if len(s) <= n:", "if len(s) < n:")],
  ["assert candidate('hello world', 8) == 'hello...'", "assert candidate('hi', 5) == 'hi'", "assert candidate('hello', 5) == 'hello'"])

I(K, '''
def tax_rate(income):
    """0.0 up to 10000 (included), 0.2 up to 40000 (included), 0.4 above."""
    if income <= 10000:
        return 0.0
    if income <= 40000:
        return 0.2
    return 0.4
''', [("if income <= 10000:", "if income < 10000:")],
  ["assert candidate(5000) == 0.0", "assert candidate(20000) == 0.2", "assert candidate(10000) == 0.0", "assert candidate(40000) == 0.2", "assert candidate(40001) == 0.4"])

I(K, '''
def password_long_enough(p):
    """True when p has at least 8 characters."""
    return len(p) >= 8
''', [("len(p) >= 8", "len(p) > 8")],
  ["assert candidate('abcdefghij') == True", "assert candidate('abc') == False", "assert candidate('abcdefgh') == True"])

I(K, '''
def count_in_range(xs, lo, hi):
    """How many items x of xs satisfy lo <= x <= hi."""
    return sum(1 for x in xs if lo <= x <= hi)
''', [("if lo <= x <= hi", "if lo < x <= hi")],
  ["assert candidate([1, 5, 10], 2, 9) == 1", "assert candidate([1, 5, 10], 1, 10) == 3", "assert candidate([], 0, 1) == 0"])

I(K, '''
def age_group(age):
    """"child" below 13, "teen" from 13 to 19, "adult" from 20."""
    if age < 13:
        return "child"
    if age <= 19:
        return "teen"
    return "adult"
''', [("if age <= 19:", "if age < 19:")],
  ["assert candidate(5) == 'child'", "assert candidate(15) == 'teen'", "assert candidate(19) == 'teen'", "assert candidate(13) == 'teen'", "assert candidate(20) == 'adult'"])

I(K, '''
def is_weekend(day):
    """True for Saturday (5) and Sunday (6), days numbered 0 (Monday) to 6."""
    return day >= 5
''', [("day >= 5", "day > 5")],
  ["assert candidate(6) == True", "assert candidate(0) == False", "assert candidate(5) == True", "assert candidate(4) == False"])

# ---------------------------------------------------------------- string_slicing
K = "string_slicing"
I(K, '''
def file_extension(name):
    """The text after the last "." of name, without the dot; "" when there is no dot."""
    i = name.rfind(".")
    return name[i + 1:] if i != -1 else ""
''', [("name[i + 1:]", "name[i:]")],
  ["assert candidate('photo.jpg') == 'jpg'", "assert candidate('a.tar.gz') == 'gz'", "assert candidate('README') == ''"])

I(K, '''
def strip_prefix(s, prefix):
    """s without prefix at its start (s unchanged when it does not start with prefix)."""
    if s.startswith(prefix):
        return s[len(prefix):]
    return s
''', [("s[len(prefix):]", "s[len(prefix) + 1:]")],
  ["assert candidate('unhappy', 'un') == 'happy'", "assert candidate('happy', 'un') == 'happy'", "assert candidate('abc', 'abc') == ''"])

I(K, '''
def last_chars(s, n):
    """The last n characters of s ("" when n <= 0, all of s when n >= len(s))."""
    if n <= 0:
        return ""
    return s[-n:]
''', [("return s[-n:]", "return s[-n:-1]")],
  ["assert candidate('hello', 3) == 'llo'", "assert candidate('hi', 5) == 'hi'", "assert candidate('abc', 0) == ''"])

I(K, '''
def reverse_string(s):
    """s reversed."""
    return s[::-1]
''', [("s[::-1]", "s[-1:0:-1]")],
  ["assert candidate('abc') == 'cba'", "assert candidate('') == ''", "assert candidate('x') == 'x'"])

I(K, '''
def inner(s):
    """s without its first and last characters ("" when s is shorter than 3)."""
    return s[1:-1]
''', [("s[1:-1]", "s[1:-2]")],
  ["assert candidate('(abc)') == 'abc'", "assert candidate('ab') == ''", "assert candidate('xyz') == 'y'"])

I(K, '''
def email_domain(email):
    """The part of an e-mail address after its "@"."""
    return email[email.index("@") + 1:]
''', [('email[email.index("@") + 1:]', 'email[email.index("@"):]')],
  ["assert candidate('ada@example.org') == 'example.org'", "assert candidate('a@b') == 'b'"])

I(K, '''
def every_other(s):
    """The characters of s at even indexes (0, 2, 4, ...)."""
    return s[::2]
''', [("s[::2]", "s[1::2]")],
  ["assert candidate('abcdef') == 'ace'", "assert candidate('a') == 'a'", "assert candidate('') == ''"])

I(K, '''
def first_sentence(text):
    """text up to and including its first "."; all of text when it has no "."."""
    i = text.find(".")
    return text if i == -1 else text[:i + 1]
''', [("text[:i + 1]", "text[:i]")],
  ["assert candidate('Hi there. Bye.') == 'Hi there.'", "assert candidate('no dot') == 'no dot'", "assert candidate('.') == '.'"])

I(K, '''
def mask_card(number):
    """number (a string of at least 4 digits) with every digit but the last four replaced by "*"."""
    return "*" * (len(number) - 4) + number[-4:]
''', [("number[-4:]", "number[-3:]")],
  ["assert candidate('1234567890') == '******7890'", "assert candidate('1234') == '1234'"])

I(K, '''
def split_at(s, i):
    """(s before index i, s from index i on)."""
    return s[:i], s[i:]
''', [("s[:i], s[i:]", "s[:i], s[i + 1:]")],
  ["assert candidate('hello', 2) == ('he', 'llo')", "assert candidate('ab', 0) == ('', 'ab')", "assert candidate('ab', 2) == ('ab', '')"])

I(K, '''
def swap_halves(s):
    """The second half of s followed by the first half; for an odd length the first half is the shorter one."""
    h = len(s) // 2
    return s[h:] + s[:h]
''', [("s[h:] + s[:h]", "s[h + 1:] + s[:h]")],
  ["assert candidate('abcd') == 'cdab'", "assert candidate('abcde') == 'cdeab'", "assert candidate('') == ''"])

I(K, '''
def remove_at(s, i):
    """s without the character at index i (0 <= i < len(s))."""
    return s[:i] + s[i + 1:]
''', [("s[:i] + s[i + 1:]", "s[:i] + s[i:]")],
  ["assert candidate('hello', 1) == 'hllo'", "assert candidate('a', 0) == ''", "assert candidate('abc', 2) == 'ab'"])
