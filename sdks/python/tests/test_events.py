import unittest

from tokapi.models import PingEvent, UnknownEvent, event_from_dict


class EventDecodingTest(unittest.TestCase):
    def test_known_type_decodes_to_its_class(self) -> None:
        event = event_from_dict(
            {"id": "evt_1", "type": "webhook.ping", "createdAt": "2026-12-01T10:00:00Z",
             "data": {"webhookId": "wh_1", "message": "hi"}}
        )
        self.assertIsInstance(event, PingEvent)
        assert isinstance(event, PingEvent)
        self.assertEqual(event.data.webhook_id, "wh_1")

    def test_type_newer_than_the_sdk_is_kept_not_refused(self) -> None:
        raw = {"id": "evt_2", "type": "future.thing", "createdAt": "2026-12-01T10:00:00Z", "data": {"x": 1}}
        event = event_from_dict(raw)
        self.assertIsInstance(event, UnknownEvent)
        assert isinstance(event, UnknownEvent)
        self.assertEqual(event.type, "future.thing")
        self.assertEqual(event.raw, raw)


if __name__ == "__main__":
    unittest.main()
