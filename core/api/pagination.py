from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """Page-number pagination with count; ``page_size`` may be raised up to 1000."""

    page_size_query_param = "page_size"
    max_page_size = 1000
