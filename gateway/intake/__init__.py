"""The intake: what every reading goes through, from the broker or the poller to the store.

MQTT messages are read (``mqtt_reader``, ``mqtt_publish``) and checked (``mqtt_ingest``), every
accepted message is on disk in the ``journal`` before it is acknowledged, and the ``pipeline``
writes readings to the store, from memory or from the journal (``decode``). Beside it: the devices
served (``directory``), online/offline (``device_state``), subscribers (``fanout``) and the
gateway's own tables (``schema``, ``records``, ``recorder``).
"""
