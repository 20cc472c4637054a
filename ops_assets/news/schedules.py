"""Every minute: poll the feeds and classify what arrived (today's partition, never two runs at once)."""

from ops_assets.news.jobs import news_job
from ops_assets.scheduling import incremental_schedule

news_schedule = incremental_schedule(news_job, "* * * * *", description="RSS news every minute")
