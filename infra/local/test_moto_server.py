"""infra/local/moto_server.py's memoised dispatch answers exactly what stock moto computes.

    python3 -m unittest infra/local/test_moto_server.py
"""

import importlib.util
import inspect
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def stock_method_names(clazz):
    return [name for name, _ in inspect.getmembers(clazz, predicate=inspect.isfunction)]


def stock_modules():
    import moto

    path = os.path.dirname(moto.__file__)
    return [b for b in sorted(os.listdir(path)) if os.path.isdir(os.path.join(path, b)) and not b.startswith("__")]


class MemoisedDispatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        spec = importlib.util.spec_from_file_location("gatehouse_moto_server", os.path.join(HERE, "moto_server.py"))
        cls.module = importlib.util.module_from_spec(spec)
        sys.modules["gatehouse_moto_server"] = cls.module
        spec.loader.exec_module(cls.module)

    def test_a_handlers_method_names_are_the_ones_inspect_finds_and_are_computed_once(self):
        from moto.core import responses
        from moto.dynamodb.responses import DynamoHandler
        from moto.sesv2.responses import SESV2Response

        for handler in (DynamoHandler, SESV2Response):
            names = responses.method_names_from_class(handler)
            self.assertEqual(set(names), set(stock_method_names(handler)))
            self.assertIn("get_item" if handler is DynamoHandler else "send_email", names)
            self.assertIs(responses.method_names_from_class(handler), names, "the second lookup is the cached answer")

    def test_the_service_packages_are_the_ones_listed_on_disk(self):
        from moto import backends

        self.assertEqual(list(backends.list_of_moto_modules()), stock_modules())
        self.assertIn("dynamodb", backends.list_of_moto_modules())
        self.assertIn("sesv2", backends.list_of_moto_modules())

    def test_a_request_id_has_moto_s_length_and_alphabet_and_is_new_every_time(self):
        from moto.core import responses

        headers = {}
        ids = {responses.gen_amzn_requestid_long(headers) for _ in range(200)}
        self.assertEqual(len(ids), 200)
        for req_id in ids:
            self.assertRegex(req_id, re.compile(r"^[A-Za-z0-9]{52}$"))
        self.assertIn(headers["x-amzn-requestid"], ids)


if __name__ == "__main__":
    unittest.main()
