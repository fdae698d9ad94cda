"""The Django app holding the benchmark's two models (``apps.database.django_wsgi``)."""
