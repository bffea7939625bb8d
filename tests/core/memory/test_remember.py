"""Rule-based memory language: remember commands, person rewriting, slot keys, extraction."""

from __future__ import annotations

import pytest

from assistant.core.memory.remember import (
    about_the_user,
    extract_facts,
    parse_remember,
    slot_key,
    to_second_person,
    to_third_person,
)


@pytest.mark.parametrize(
    ("said", "saved"),
    [
        ("I live in Lyon", "The user lives in Lyon."),
        ("I'm allergic to peanuts", "The user is allergic to peanuts."),
        ("I don't eat meat", "The user doesn't eat meat."),
        ("I won't eat fish", "The user won't eat fish."),
        ("I usually wake up at 6", "The user usually wakes up at 6."),
        ("I studied in Leeds", "The user studied in Leeds."),
        ("I need to buy milk", "The user needs to buy milk."),
        ("I work as a nurse and I love cats", "The user works as a nurse and the user loves cats."),
        ("My sister lives in Rome.", "The user's sister lives in Rome."),
        ("I have two kids!", "The user has two kids."),
        ("I watch films", "The user watches films."),
        ("I study law", "The user studies law."),
    ],
)
def test_first_person_becomes_third_person(said, saved):
    assert to_third_person(said) == saved


@pytest.mark.parametrize(
    ("fact", "said_back"),
    [
        ("The user lives in Paris.", "You live in Paris."),
        ("The user's dog is called Biscuit.", "Your dog is called Biscuit."),
        ("The user is allergic to peanuts.", "You are allergic to peanuts."),
        ("The user studies law.", "You study law."),
        ("The user has two kids.", "You have two kids."),
    ],
)
def test_facts_are_said_back_in_the_second_person(fact, said_back):
    assert to_second_person(fact) == said_back


def test_remember_commands():
    assert parse_remember("Remember that I live in Lyon.") == "I live in Lyon"
    assert (
        parse_remember("please remember: my sister is called Maria") == "my sister is called Maria"
    )
    assert parse_remember("Remember to buy milk") == "I need to buy milk"
    assert parse_remember("What do you remember?") is None
    assert parse_remember("Remember when we talked about cats") is None
    assert parse_remember("Tell me a story") is None


def test_slot_keys_decide_what_a_new_fact_replaces():
    assert slot_key("The user lives in Lyon.") == slot_key("The user lives in Paris now.")
    assert slot_key("The user's sister is called Maria.") == "sister's name"
    assert slot_key("The user's sister is a doctor.") == "user's sister"
    assert slot_key("The user is 34 years old.") == "age"
    assert slot_key("The user has two cats.") is None  # not single-valued


def test_facts_stated_in_passing():
    assert extract_facts("I work as a nurse. What should I cook tonight?") == [
        "The user works as a nurse."
    ]
    assert extract_facts("I think I might move to Spain.") == []  # not a fact yet
    assert extract_facts("Do I live in Lyon?") == []
    assert extract_facts("Remember that I live in Lyon.") == []  # saved explicitly instead
    assert about_the_user("Where do I live?") == "Where do the user live?"
