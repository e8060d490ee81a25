"""The channels that reach people, each a small adapter behind :class:`Adapter`."""

from __future__ import annotations

from duty.channels.base import Adapter, ConsoleAdapter, Outgoing
from duty.channels.email import EmailAdapter
from duty.channels.http_gateway import HttpGatewayAdapter
from duty.channels.robots import DingTalkAdapter, FeishuAdapter, WeComAdapter, dingtalk_sign, feishu_sign

__all__ = ["Adapter", "ConsoleAdapter", "DingTalkAdapter", "EmailAdapter", "FeishuAdapter", "HttpGatewayAdapter",
           "Outgoing", "WeComAdapter", "dingtalk_sign", "feishu_sign"]
