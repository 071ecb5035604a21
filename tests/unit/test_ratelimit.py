"""The outbound rate limiter, on a fake clock."""

from __future__ import annotations

from bot.config import RateLimitConfig
from bot.telegram.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_message_per_second_per_chat() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitConfig(), clock=clock)
    assert limiter.reserve(42) == 0
    wait = limiter.reserve(42)
    assert 0.99 <= wait <= 1.0
    assert limiter.reserve(43) == 0  # other chats are independent
    clock.now += 1.0
    assert limiter.reserve(42) == 0


def test_twenty_per_minute_per_group() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitConfig(per_chat_per_second=100, global_per_second=100), clock=clock)
    for _ in range(20):
        assert limiter.reserve(-100) == 0
        clock.now += 0.1
    wait = limiter.reserve(-100)
    assert 57 < wait <= 60
    assert limiter.reserve(7) == 0  # private chats have no per-minute cap


def test_global_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitConfig(global_per_second=3), clock=clock)
    assert [limiter.reserve(chat) for chat in (1, 2, 3)] == [0, 0, 0]
    assert limiter.reserve(4) > 0


def test_a_refused_reservation_takes_no_slot() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitConfig(global_per_second=1), clock=clock)
    assert limiter.reserve(1) == 0
    for _ in range(5):
        assert limiter.reserve(2) > 0
    clock.now += 1.0
    assert limiter.reserve(2) == 0


def test_penalise_closes_the_chat_for_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitConfig(), clock=clock)
    limiter.penalise(5, 7)
    assert 6.9 < limiter.reserve(5) <= 7
    clock.now += 7.01
    assert limiter.reserve(5) == 0


def test_idle_chats_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitConfig(), clock=clock)
    for chat in range(1000):
        limiter.reserve(-chat - 1)
        clock.now += 0.05
    clock.now += 120
    limiter.reserve(1)
    assert len(limiter._chats) == 1 and len(limiter._groups) == 0


def test_available_counts_the_free_slots_without_taking_one() -> None:
    clock = Clock()
    limiter = RateLimiter(
        RateLimitConfig(per_chat_per_second=3, per_group_per_minute=4, global_per_second=100), clock=clock
    )
    assert limiter.available(-100) == 3  # the per-second window is the tighter one
    assert limiter.available(-100) == 3  # asking takes nothing
    limiter.reserve(-100)
    limiter.reserve(-100)
    assert limiter.available(-100) == 1
    clock.now += 1.0
    assert limiter.available(-100) == 2  # the per-minute group window still holds two
    limiter.penalise(-100, 5)
    assert limiter.available(-100) == 0
    clock.now += 5.01
    assert limiter.available(-100) == 2
